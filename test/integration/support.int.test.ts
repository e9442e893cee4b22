import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Store } from '../../src/store';
import { writeCliConfig } from '../helpers/cli-config';
import { runCli } from '../helpers/cli';
import { describeEachDatabase, type TestDb } from '../helpers/db';
import { bundledMappingText, mappingFromText } from '../helpers/mappings';
import { PHI, phiIn } from '../helpers/phi';
import { startPipeline, type Pipeline } from '../helpers/pipeline';

// DESIGN §6: failed jobs and rejected inbox rows are the support queue — list, show (in words, masked), replay
// (the key, never a payload), with --dry-run showing the ops without running them. The commands open the store
// from a --config file, in-process, on SQLite and PostgreSQL.
jest.setTimeout(60_000);

/** Ada (no contact id, so her guardian key holds her email and name) and her daughter Mia. */
function family(type: string, controlId: string): string {
  const nk1 = Array.from({ length: 34 }, () => '');
  nk1[0] = 'NK1';
  nk1[1] = '1';
  nk1[2] = `${PHI.family}^${PHI.given}`;
  nk1[3] = 'MTH';
  nk1[5] = `^NET^Internet^${PHI.email}~^PRN^CP^^1^202^5550101`;
  nk1[16] = PHI.birthDate.replace(/-/g, '');
  return [
    `MSH|^~\\&|EHR|CLINIC|PORTAL|CLINIC|20260110090000||${type}^ADT_A01|${controlId}|P|2.5.1`,
    `PID|1||${PHI.patientId}^^^CLINIC^MR||${PHI.family}^${PHI.childGiven}||20190601|F`,
    nk1.join('|'),
    'ZNK|1|J|N|N|N',
  ].join('\r');
}

// The default mapping rejects ADT^A05; the "fixed" one upserts it.
const fixedMappingText = bundledMappingText('hl7v2').replace('  ADT^A04: upsert', '  ADT^A04: upsert\n  ADT^A05: upsert');

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'pb-support-'));
  writeFileSync(path.join(tmp, 'fixed-mapping.yaml'), fixedMappingText);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const writeConfig = (db: TestDb, name: string, mapping?: string): string => writeCliConfig(db, tmp, name, mapping);

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return runCli(...args);
}

async function linkedPatients(store: Store, key: string): Promise<string[]> {
  return (await store.ledger.listLinks(key)).filter((l) => l.status === 'linked').map((l) => l.patientId);
}

describeEachDatabase('support queue: failures and replay', (db) => {
  let p: Pipeline | undefined;
  afterEach(async () => {
    await p?.close();
    p = undefined;
  });

  test('a job that failed on portal 500s: listed, explained without PHI, dry-run changes nothing, replay converges with one welcome', () =>
    db.withStore(async (store) => {
      const config = writeConfig(db, 'job');
      p = await startPipeline(store, { retry: { baseMs: 10, factor: 2, capMs: 100, maxAttempts: 2 } });
      await p.control.faults({ errorRate: 1, errorStatus: 500 });
      await p.feed([family('ADT^A04', 'A1')]);
      await p.drain();
      const [failed, ...others] = await store.jobs.listFailed({ limit: 10 });
      expect(others).toEqual([]);
      expect(failed).toMatchObject({ status: 'failed', attempts: 2, lastErrorCode: 'ERR_PORTAL_UNAVAILABLE' });
      const jobId = `job:${failed!.id}`;

      // failures list --json: the job by guardian ref, the code in words; never the key.
      const list = await cli('failures', 'list', '--json', '--config', config);
      expect(list).toMatchObject({ code: 0, err: '' });
      const listed = JSON.parse(list.out) as { jobs: Record<string, unknown>[]; rejected: unknown[] };
      expect(listed.jobs).toEqual([
        expect.objectContaining({ id: jobId, guardian: expect.stringMatching(/^g_[0-9a-f]{16}$/), attempts: 2, code: 'ERR_PORTAL_UNAVAILABLE', meaning: 'The portal answered 5xx: retried with backoff.' }),
      ]);
      expect(listed.rejected).toEqual([]);
      expect(phiIn(list.out)).toEqual([]);
      const table = await cli('failures', 'list', '--config', config);
      expect(table.out).toMatch(new RegExp(`${jobId} +g_[0-9a-f]{16} +2 `));
      expect(phiIn(table.out)).toEqual([]);

      // failures show: the reason in words, the audit, no PHI; --unmask shows the person.
      const shown = await cli('failures', 'show', jobId, '--config', config);
      expect(shown.code).toBe(0);
      expect(shown.out).toMatch(/Why: +The portal answered 5xx: retried with backoff\. Still failing after 2 attempts: the retry budget is spent\./);
      expect(shown.out).toMatch(/Next run: +none: a failed job runs again only when replayed/);
      expect(shown.out).toMatch(/guardian g_[0-9a-f]{16} \(e:a\*\*\*@example\.org\/A\.T\.\)/);
      expect(phiIn(shown.out)).toEqual([]);
      const shownJson = JSON.parse((await cli('failures', 'show', String(failed!.id), '--json', '--config', config)).out) as { lastError: { code: string }; masked: boolean };
      expect(shownJson).toMatchObject({ lastError: { code: 'ERR_PORTAL_UNAVAILABLE' }, masked: true });
      const unmasked = await cli('failures', 'show', jobId, '--unmask', '--config', config);
      expect(unmasked.out).toContain(`e:${PHI.email}/ada testperson`);

      // replay --dry-run: the ops reconcile would run, from the ledger only; nothing changes.
      const auditBefore = await store.audit.listAudit({ limit: 1000 });
      const dry = await cli('replay', jobId, '--dry-run', '--json', '--config', config);
      expect(dry).toMatchObject({ code: 0, err: '' });
      const planned = JSON.parse(dry.out) as { dryRun: boolean; jobs: { id: string; ops: { kind: string; target: string }[]; holds: unknown[] }[] };
      expect(planned.dryRun).toBe(true);
      expect(planned.jobs.map((j) => [j.id, j.ops.map((op) => op.kind), j.holds])).toEqual([[jobId, ['create-account', 'link', 'send-welcome'], []]]);
      expect(planned.jobs[0]!.ops[0]!.target).toBe('account a***@example.org, A. T., cell ***01');
      expect(phiIn(dry.out)).toEqual([]);
      const dryText = await cli('replay', jobId, '--dry-run', '--config', config);
      expect(dryText.out).toMatch(/would run 3 op\(s\):\n {4}create-account {2}account a\*\*\*@example\.org/);
      expect(dryText.out).toMatch(/Dry run: nothing was changed/);
      expect(phiIn(dryText.out)).toEqual([]);
      expect(await store.jobs.getJob({ id: failed!.id })).toEqual(failed);
      expect(await store.audit.listAudit({ limit: 1000 })).toEqual(auditBefore);
      expect(await p.control.outbox()).toEqual([]);

      // replay: the key is enqueued again; once the portal is back, one account, Mia linked, one welcome.
      const replayed = await cli('replay', jobId, '--by', 'staff-17', '--config', config);
      expect(replayed).toMatchObject({ code: 0, err: '' });
      expect(replayed.out).toMatch(new RegExp(`^${jobId} +guardian g_[0-9a-f]{16} .*was failed: key re-enqueued`));
      expect(await store.jobs.getJob({ id: failed!.id })).toMatchObject({ status: 'queued', attempts: 0 });
      expect((await store.audit.listAudit({ guardianKey: failed!.key, limit: 1 }))[0]).toMatchObject({ actor: 'staff-17', op: 'replay' });
      await p.control.faults(null);
      await p.drain();
      expect(await store.jobs.getJob({ id: failed!.id })).toMatchObject({ status: 'succeeded' });
      const accounts = await store.ledger.listAccounts({ limit: 10 });
      expect(accounts.map((a) => [a.guardianKey, a.email])).toEqual([[failed!.key, PHI.email]]);
      expect(await linkedPatients(store, failed!.key)).toEqual([PHI.patientId]);
      expect((await p.control.outbox()).map((o) => o.trigger)).toEqual(['created']);

      // Replaying a converged guardian plans nothing and sends nothing more.
      const again = await cli('replay', jobId, '--dry-run', '--json', '--config', config);
      expect((JSON.parse(again.out) as { jobs: { ops: unknown[] }[] }).jobs[0]!.ops).toEqual([]);
      expect((await cli('replay', '--all-failed', '--config', config)).code).toBe(1);
    }));

  test('a rejected inbox row: listed, explained (raw only with --unmask), dry-run says it maps now, replay reprocesses it', () =>
    db.withStore(async (store) => {
      const config = writeConfig(db, 'inbox', path.join(tmp, 'fixed-mapping.yaml'));
      const defaultConfig = writeConfig(db, 'inbox-default');
      p = await startPipeline(store);
      // As a connector stores it: with the control id (MSH-10) it read.
      await store.inbox.acceptInbox([{ source: 'test', dedupeKey: 'R1', controlId: 'R1', format: 'hl7v2', raw: family('ADT^A05', 'R1') }]);
      await p.drain();
      const [row] = await store.inbox.listRejected({ limit: 10 });
      expect(row).toMatchObject({ status: 'rejected', errorCode: 'ERR_MAPPING_UNSUPPORTED_EVENT', controlId: 'R1' });
      const inboxId = `inbox:${row!.id}`;

      const list = await cli('failures', 'list', '--json', '--config', config);
      expect(JSON.parse(list.out)).toEqual({
        jobs: [],
        rejected: [expect.objectContaining({ id: inboxId, source: 'test', controlId: 'R1', code: 'ERR_MAPPING_UNSUPPORTED_EVENT', meaning: 'The message type is not one the mapping accepts.' })],
      });
      expect(phiIn(list.out)).toEqual([]);

      const shown = await cli('failures', 'show', inboxId, '--config', config);
      expect(shown.code).toBe(0);
      expect(shown.out).toMatch(/Why: +The message type is not one the mapping accepts\./);
      expect(shown.out).toMatch(/The raw message holds patient data: --unmask shows it/);
      expect(phiIn(shown.out)).toEqual([]);
      const raw = await cli('failures', 'show', inboxId, '--unmask', '--json', '--config', config);
      expect((JSON.parse(raw.out) as { raw: string }).raw).toBe(row!.raw);

      // Dry run: with the mapping in force (still the default) it would be rejected again; with the fix it maps.
      const still = await cli('replay', inboxId, '--dry-run', '--config', defaultConfig);
      expect(still.out).toMatch(/it would be rejected again: ERR_MAPPING_UNSUPPORTED_EVENT/);
      const dry = await cli('replay', inboxId, '--dry-run', '--json', '--config', config);
      expect(JSON.parse(dry.out)).toEqual({ dryRun: true, jobs: [], inbox: [{ id: inboxId, source: 'test', controlId: 'R1', mapsNow: { ok: true, changes: expect.any(Number), ignored: false } }] });
      expect(await store.inbox.getInbox(row!.id)).toEqual(row);

      // The mapping is fixed (the daemon restarted with it): replay puts the row back, ingest maps it.
      await p.close();
      p = await startPipeline(store, { mapping: mappingFromText(fixedMappingText) });
      const replayed = await cli('replay', inboxId, '--config', config);
      expect(replayed).toMatchObject({ code: 0, err: '' });
      expect(replayed.out).toMatch(/back in the inbox queue; the ingest worker maps it again/);
      expect(await store.inbox.getInbox(row!.id)).toMatchObject({ status: 'received' });
      await p.drain();
      expect(await store.inbox.getInbox(row!.id)).toMatchObject({ status: 'accepted' });
      expect(await store.ledger.listAccounts({ limit: 10 })).toHaveLength(1);
      expect(await p.control.outbox()).toHaveLength(1);
      const after = await cli('replay', inboxId, '--config', config);
      expect(after.code).toBe(1);
      expect(after.err).toMatch(new RegExp(`${inboxId}: the input is accepted, not rejected`));
    }));
});
