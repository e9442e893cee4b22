import { exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { runBackfill, type BackfillOptions, type BackfillProgress } from '../../connectors/fhir/backfill';
import { backfillCursorName } from '../../connectors/fhir/backfill-state';
import { createFhirHttp, type FhirHttp } from '../../connectors/fhir/fhir-http';
import { cursorName } from '../../connectors/fhir/poller';
import { createSmartAuth } from '../../connectors/fhir/smart-auth';
import { BridgeError } from '../../src/errors';
import { createLogger, type Logger } from '../../src/log';
import type { Store } from '../../src/store';
import { describeEachDatabase } from '../helpers/db';
import { httpGet, startFhirTestServer, type FhirTestServer, type FhirTestServerOptions } from '../helpers/fhir-server';
import { bundledMapping } from '../helpers/mappings';
import { startPipeline } from '../helpers/pipeline';

jest.setTimeout(60_000);

const TYPES = ['Patient', 'RelatedPerson', 'Appointment'] as const;

interface Harness {
  readonly server: FhirTestServer;
  readonly log: Logger;
  readonly logLines: string[];
  http(options?: { auth?: Awaited<ReturnType<typeof createSmartAuth>> }): FhirHttp;
  /** runBackfill on channel `ehr` with small batches; `progress` collects every onProgress call. */
  backfill(options?: Partial<BackfillOptions>, progress?: BackfillProgress[]): ReturnType<typeof runBackfill>;
}

async function withServer(store: Store, serverOptions: FhirTestServerOptions, fn: (h: Harness) => Promise<void>): Promise<void> {
  const server = await startFhirTestServer({ exportRetryAfterS: 0, exportPolls: 1, exportFileLines: 5, ...serverOptions });
  const logLines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (c: Buffer) => logLines.push(...c.toString('utf8').split('\n').filter((l) => l !== '')));
  const log = createLogger({ level: 'debug', stream });
  const http: Harness['http'] = (o = {}) =>
    createFhirHttp({ baseUrl: server.baseUrl, log, retry: { retries: 4, minTimeoutMs: 20, maxTimeoutMs: 200 }, ...(o.auth !== undefined && { auth: o.auth }) });
  try {
    await fn({
      server,
      log,
      logLines,
      http,
      backfill: (o = {}, progress) =>
        runBackfill({
          name: 'ehr',
          http: http(),
          store,
          log,
          resourceTypes: TYPES,
          batchSize: 3,
          pageSize: 5,
          statusPollDefaultWaitMs: 10,
          ...o,
          onProgress: (p) => {
            progress?.push(p);
            o.onProgress?.(p);
          },
        }),
    });
  } finally {
    await server.close();
  }
}

interface Row {
  dedupe_key: string;
  status: string;
  error_code: string | null;
  error: string | null;
  control_id: string | null;
}

async function inboxRows(store: Store): Promise<Row[]> {
  return store.knex('inbox').select('dedupe_key', 'status', 'error_code', 'error', 'control_id').where({ source: 'ehr' }).orderBy('id');
}

async function cursorJson(store: Store, name: string): Promise<Record<string, unknown> | undefined> {
  const value = await store.cursors.getCursor(name);
  return value === undefined ? undefined : (JSON.parse(value) as Record<string, unknown>);
}

/** Every resource the server holds of the backfilled types, as dedupe keys. */
function serverKeys(server: FhirTestServer, ids: Record<string, readonly string[]>): string[] {
  return Object.entries(ids).flatMap(([type, list]) => list.map((id) => `${type}/${id}/_history/${server.get(type, id)!.meta.versionId}`));
}

function familyIds(guardians: number, childrenPer: number, coParents: boolean): Record<string, string[]> {
  const patients: string[] = [];
  const related: string[] = [];
  for (let g = 1; g <= guardians; g++) {
    for (let n = 1; n <= childrenPer; n++) {
      patients.push(`P${g}-${n}`);
      related.push(`RP${g}-${n}`, ...(coParents ? [`RP${g}-${n}b`] : []));
    }
  }
  return { Patient: patients, RelatedPerson: related };
}

const exportFileRequests = (server: FhirTestServer): string[] =>
  server
    .requests()
    .filter((r) => r.path.includes('/$export-file/'))
    .map((r) => r.path.replace(/^.*\//, ''));

/** A failure as a test makes one: a crash right after a committed batch. */
class Crash extends Error {}

/** An onProgress that throws Crash right after the `n`th committed batch (a call where the counts grew). */
function crashAfterBatch(n: number): (p: BackfillProgress) => void {
  let batches = 0;
  let read = 0;
  return (p) => {
    const now = p.stored + p.duplicate + p.rejected;
    if (now > read && ++batches === n) throw new Crash(`stopped after batch ${n}`);
    read = now;
  };
}

describeEachDatabase('FHIR backfill', (db) => {
  test('Bulk Data export of families with co-parents: one row per resource over several files; poller cursors at transactionTime; a second run is done; the pipeline ingests it', async () => {
    await db.withStore(async (store) => {
      const pipeline = await startPipeline(store, { mapping: bundledMapping('fhir'), start: new Date('2026-11-23T12:00:00Z') });
      try {
        await withServer(store, {}, async ({ server, backfill, logLines }) => {
          server.addFamilies({ guardians: 6, childrenPer: 2, coParents: true });
          server.put({ resourceType: 'Appointment', id: 'A1', status: 'booked', participant: [{ actor: { reference: 'Patient/P1-1' }, status: 'accepted' }] });
          // A poller cursor already past the export stays where it is.
          await store.cursors.setCursor(cursorName('ehr', 'Appointment'), JSON.stringify({ since: '2999-01-01T00:00:00.000Z' }));
          const progress: BackfillProgress[] = [];
          const report = await backfill({}, progress);

          expect(report).toMatchObject({ mode: 'export', phase: 'done', stored: 37, duplicate: 0, rejected: 0, resumed: false, alreadyDone: false });
          expect(report.byType).toEqual({ Patient: 12, RelatedPerson: 24, Appointment: 1 });
          const rows = await inboxRows(store);
          const expected = [...serverKeys(server, familyIds(6, 2, true)), 'Appointment/A1/_history/1'];
          expect(rows.map((r) => r.dedupe_key).sort()).toEqual(expected.sort());
          // 12 Patients and 24 RelatedPersons at 5 lines a file: 3 + 5 files, and the Appointment's.
          expect(exportFileRequests(server)).toEqual([
            ...['Patient-1', 'Patient-2', 'Patient-3'],
            ...['RelatedPerson-1', 'RelatedPerson-2', 'RelatedPerson-3', 'RelatedPerson-4', 'RelatedPerson-5'],
            'Appointment-1',
          ].map((f) => `${f}.ndjson`));
          expect(progress.filter((p) => p.phase === 'downloading').map((p) => p.file?.count)).toContain(9);
          expect(progress.at(-1)).toMatchObject({ phase: 'done', stored: 37 });

          const transactionTime = report.transactionTime!;
          expect(Date.parse(transactionTime)).not.toBeNaN();
          expect(await cursorJson(store, cursorName('ehr', 'Patient'))).toEqual({ since: new Date(transactionTime).toISOString() });
          expect(await cursorJson(store, cursorName('ehr', 'RelatedPerson'))).toEqual({ since: new Date(transactionTime).toISOString() });
          expect(await cursorJson(store, cursorName('ehr', 'Appointment'))).toEqual({ since: '2999-01-01T00:00:00.000Z' });
          expect(await cursorJson(store, backfillCursorName('ehr'))).toMatchObject({ done: true, mode: 'export', transactionTime, counts: { stored: 37 } });
          expect(server.requests().filter((r) => r.method === 'DELETE' && r.path.includes('/$export-status/'))).toHaveLength(1);

          server.clearRequests();
          const again = await backfill();
          expect(again).toMatchObject({ alreadyDone: true, phase: 'done', stored: 37, transactionTime });
          expect(server.requests()).toEqual([]);
          expect(logLines.join('\n')).not.toMatch(/Testfamily|Testchild|example\.org|_type=|\$export-file/);

          await pipeline.drain();
          const accounts = await store.ledger.listAccounts({ limit: 50 });
          expect(accounts).toHaveLength(12);
          for (const account of accounts) expect(await store.ledger.listLinks(account.guardianKey)).toHaveLength(2);
        });
      } finally {
        await pipeline.close();
      }
    });
  });

  test('--since: only what changed since then; the same since again is done, another since runs again', async () => {
    await db.withStore(async (store) => {
      let clock = new Date('2026-03-01T10:00:00.000Z');
      await withServer(store, { now: () => clock }, async ({ server, backfill }) => {
        server.addFamilies({ guardians: 3, childrenPer: 1 });
        clock = new Date('2026-03-05T10:00:00.000Z');
        server.addFamilies({ guardians: 2, childrenPer: 1, startIndex: 10 });
        clock = new Date('2026-03-06T10:00:00.000Z');
        const since = new Date('2026-03-05T00:00:00.000Z');
        const report = await backfill({ since });
        expect(report).toMatchObject({ mode: 'export', stored: 4, transactionTime: '2026-03-06T10:00:00.000Z' });
        expect((await inboxRows(store)).map((r) => r.control_id).sort()).toEqual(['Patient/P10-1', 'Patient/P11-1', 'RelatedPerson/RP10-1', 'RelatedPerson/RP11-1']);
        expect(server.requests().find((r) => r.path === '/fhir/$export')?.query).toMatchObject({ _since: since.toISOString() });
        expect((await backfill({ since })).alreadyDone).toBe(true);
        const everything = await backfill();
        expect(everything).toMatchObject({ alreadyDone: false, stored: 6, duplicate: 4 });
        expect(await inboxRows(store)).toHaveLength(10);
      });
    });
  });

  test('Retry-After on the status URL is honoured (and capped); X-Progress is reported', async () => {
    await db.withStore(async (store) => {
      await withServer(store, { exportRetryAfterS: 1 }, async ({ server, backfill }) => {
        server.addFamilies({ guardians: 1, childrenPer: 1 });
        const progress: BackfillProgress[] = [];
        const started = Date.now();
        await backfill({}, progress);
        expect(Date.now() - started).toBeGreaterThanOrEqual(950);
        expect(progress.map((p) => p.phase)).toEqual(expect.arrayContaining(['kick-off', 'waiting', 'downloading', 'done']));
        expect(progress.find((p) => p.phase === 'waiting')?.serverProgress).toBe('in progress (0/1)');
        expect(server.requests().filter((r) => r.path.includes('/$export-status/') && r.method === 'GET')).toHaveLength(2);
      });
      await withServer(store, { exportRetryAfterS: 3600 }, async ({ server, backfill }) => {
        server.addFamilies({ guardians: 1, childrenPer: 1 });
        const started = Date.now();
        expect(await backfill({ restart: true, statusPollMaxWaitMs: 50 })).toMatchObject({ mode: 'export', duplicate: 2, alreadyDone: false });
        expect(Date.now() - started).toBeLessThan(5_000);
      });
    });
  });

  test('resumable: stopped after a batch in the middle of a file, the next run resumes at that file and line; one row per resource', async () => {
    await db.withStore(async (store) => {
      await withServer(store, {}, async ({ server, backfill, logLines }) => {
        server.addFamilies({ guardians: 6, childrenPer: 2, coParents: true });
        // Batches of 3 over files of 5 lines: Patient-1 lines 1-3, 4-5; Patient-2 lines 1-3 → stop.
        await expect(backfill({ onProgress: crashAfterBatch(3) })).rejects.toBeInstanceOf(Crash);
        expect(await cursorJson(store, backfillCursorName('ehr'))).toMatchObject({ mode: 'export', fileIndex: 1, line: 3, counts: { stored: 8 } });
        expect(await inboxRows(store)).toHaveLength(8);
        expect(await store.cursors.getCursor(cursorName('ehr', 'Patient'))).toBeUndefined();

        server.clearRequests();
        const report = await backfill();
        expect(report).toMatchObject({ resumed: true, mode: 'export', stored: 36, duplicate: 0, rejected: 0 });
        expect(report.byType).toEqual({ Patient: 12, RelatedPerson: 24 });
        const rows = await inboxRows(store);
        expect(rows.map((r) => r.dedupe_key).sort()).toEqual(serverKeys(server, familyIds(6, 2, true)).sort());
        // The same export: no kick-off, no status poll; the finished file is not fetched again.
        expect(server.requests().filter((r) => r.path === '/fhir/$export' || (r.method === 'GET' && r.path.includes('/$export-status/')))).toEqual([]);
        const files = exportFileRequests(server);
        expect(files[0]).toBe('Patient-2.ndjson');
        expect(files).not.toContain('Patient-1.ndjson');
        expect(logLines.some((l) => /"msg":"backfill resumed"/.test(l) && /"file":2/.test(l) && /"line":3/.test(l))).toBe(true);
      });
    });
  });

  test('a file that keeps failing stops the run; when the server then has lost the export, the next run kicks it off again (stored rows are duplicates)', async () => {
    await db.withStore(async (store) => {
      await withServer(store, {}, async ({ server, backfill }) => {
        server.addFamilies({ guardians: 4, childrenPer: 2 });
        server.fault({ path: /\/\$export-file\/[^/]+\/Patient-2\.ndjson$/, status: 500, times: 5 });
        await expect(backfill()).rejects.toMatchObject({ code: 'ERR_FHIR_UNAVAILABLE' });
        const stopped = await cursorJson(store, backfillCursorName('ehr'));
        expect(stopped).toMatchObject({ mode: 'export', fileIndex: 1, line: 0, counts: { stored: 5 } });
        // The server forgets the export (as servers do after a while).
        expect((await httpGet(String(stopped!.statusUrl), {}, 'DELETE')).status).toBe(202);

        const report = await backfill();
        expect(report).toMatchObject({ resumed: true, stored: 16, duplicate: 5 });
        expect(server.requests().filter((r) => r.path === '/fhir/$export')).toHaveLength(2);
        expect((await inboxRows(store)).map((r) => r.dedupe_key).sort()).toEqual(serverKeys(server, familyIds(4, 2, false)).sort());
      });
    });
  });

  test('a stream that breaks in the middle of a file is read again after the last stored line', async () => {
    await db.withStore(async (store) => {
      await withServer(store, {}, async ({ server, http, backfill }) => {
        server.addFamilies({ guardians: 3, childrenPer: 2 });
        const real = http();
        let broken = false;
        // The network drops once, after 4 lines of the first file (fhir-http then throws what it throws for that).
        const flaky: FhirHttp = {
          ...real,
          async *ndjsonLines(url, requiresAccessToken) {
            let lines = 0;
            for await (const line of real.ndjsonLines(url, requiresAccessToken)) {
              if (!broken && ++lines > 4) {
                broken = true;
                throw new BridgeError('ERR_FHIR_UNAVAILABLE', 'GET $export-file: the stream broke after 4 lines');
              }
              yield line;
            }
          },
        };
        const report = await backfill({ http: flaky });
        expect(broken).toBe(true);
        expect(report).toMatchObject({ stored: 12, duplicate: 0 });
        expect(exportFileRequests(server).filter((f) => f === 'Patient-1.ndjson')).toHaveLength(2);
        expect((await inboxRows(store)).map((r) => r.dedupe_key).sort()).toEqual(serverKeys(server, familyIds(3, 2, false)).sort());
      });
    });
  });

  test('a line that is not JSON and a line that is no resource are stored as rejected, with the reason; the rest is stored', async () => {
    await db.withStore(async (store) => {
      await withServer(store, {}, async ({ server, backfill }) => {
        server.addFamilies({ guardians: 4, childrenPer: 2 });
        server.fault({ path: /\/\$export-file\/[^/]+\/Patient-1\.ndjson$/, malformed: 'json' });
        server.fault({ path: /\/\$export-file\/[^/]+\/RelatedPerson-2\.ndjson$/, malformed: 'resource' });
        const report = await backfill();
        expect(report).toMatchObject({ stored: 14, rejected: 2, duplicate: 0 });
        const rejected = (await inboxRows(store)).filter((r) => r.status === 'rejected');
        expect(rejected).toEqual([
          expect.objectContaining({ error_code: 'ERR_FHIR_UNPARSEABLE', error: 'line 2 of file 1 is not JSON', control_id: null }),
          expect.objectContaining({ error_code: 'ERR_FHIR_UNPARSEABLE', error: 'the resource has no resourceType' }),
        ]);
        const raw = await store.knex('inbox').select('raw').where({ source: 'ehr', status: 'rejected' }).orderBy('id');
        expect(() => JSON.parse((raw[0] as { raw: string }).raw)).toThrow();
      });
    });
  });

  test('a server without $export: paging per type, each page one transaction; resumes at the stored next page; same rows as an export', async () => {
    await db.withStore(async (store) => {
      await withServer(store, { bulkExport: false }, async ({ server, backfill }) => {
        server.addFamilies({ guardians: 6, childrenPer: 2, coParents: true });
        await expect(backfill({ onProgress: crashAfterBatch(2) })).rejects.toBeInstanceOf(Crash);
        const stopped = await cursorJson(store, backfillCursorName('ehr'));
        expect(stopped).toMatchObject({ mode: 'paging', type: 'Patient', next: expect.stringMatching(/_cursor=/), counts: { stored: 10 } });
        expect(server.requests().some((r) => r.path.includes('$export'))).toBe(false);

        const report = await backfill();
        expect(report).toMatchObject({ mode: 'paging', resumed: true, stored: 36, duplicate: 0 });
        expect(report.transactionTime).toBeUndefined();
        expect((await inboxRows(store)).map((r) => r.dedupe_key).sort()).toEqual(serverKeys(server, familyIds(6, 2, true)).sort());
        const newestPatient = Math.max(...familyIds(6, 2, true).Patient!.map((id) => Date.parse(server.get('Patient', id)!.meta.lastUpdated)));
        expect(await cursorJson(store, cursorName('ehr', 'Patient'))).toEqual({ since: new Date(newestPatient).toISOString() });
        expect((await backfill()).alreadyDone).toBe(true);
      });
    });
  });

  test("a Group (exportGroup): only Group/[id]/$export, only the Group's families; another Group is another backfill; an unknown Group stops with the reason, no paging", async () => {
    await db.withStore(async (store) => {
      await withServer(store, {}, async ({ server, backfill, logLines }) => {
        server.addFamilies({ guardians: 3, childrenPer: 1 });
        const group = (id: string, patients: string[]) => server.put({ resourceType: 'Group', id, type: 'person', actual: true, member: patients.map((p) => ({ entity: { reference: `Patient/${p}` } })) });
        group('clinic-north', ['P1-1', 'P3-1']);
        group('clinic-south', ['P2-1']);

        expect(await backfill({ group: 'clinic-north' })).toMatchObject({ mode: 'export', stored: 4 });
        expect((await inboxRows(store)).map((r) => r.control_id).sort()).toEqual(['Patient/P1-1', 'Patient/P3-1', 'RelatedPerson/RP1-1', 'RelatedPerson/RP3-1']);
        expect(server.requests().filter((r) => r.path.endsWith('$export')).map((r) => r.path)).toEqual(['/fhir/Group/clinic-north/$export']);
        expect(server.requests().some((r) => r.path === '/fhir/metadata')).toBe(false);
        expect(await cursorJson(store, backfillCursorName('ehr'))).toMatchObject({ done: true, group: 'clinic-north' });
        expect((await backfill({ group: 'clinic-north' })).alreadyDone).toBe(true);
        expect(await backfill({ group: 'clinic-south' })).toMatchObject({ alreadyDone: false, stored: 2 });
        // The group's id is not logged (it may name a clinic).
        expect(logLines.some((l) => l.includes('clinic-'))).toBe(false);

        server.clearRequests();
        const failure = await backfill({ group: 'nobody' }).catch((e: unknown) => e);
        expect(failure).toBeInstanceOf(BridgeError);
        expect(failure).toMatchObject({ code: 'ERR_FHIR_REQUEST', message: expect.stringMatching(/^Group\/\[id\]\/\$export answered 404: the server has no such Group/) });
        expect(server.requests().some((r) => r.path !== '/fhir/Group/nobody/$export')).toBe(false);
        expect(await inboxRows(store)).toHaveLength(6);
      });
    });
  });

  test('a kick-off answered 404 falls back to paging', async () => {
    await db.withStore(async (store) => {
      await withServer(store, {}, async ({ server, backfill }) => {
        server.addFamilies({ guardians: 2, childrenPer: 1 });
        server.fault({ path: '/fhir/$export', status: 404 });
        expect(await backfill()).toMatchObject({ mode: 'paging', stored: 4 });
      });
    });
  });

  test('SMART backend auth: kick-off, status and every file carry the token', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pb-backfill-smart-'));
    try {
      const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
      const keyFile = path.join(dir, 'key.pem');
      writeFileSync(keyFile, await exportPKCS8(privateKey), { mode: 0o600 });
      const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES384', use: 'sig' };
      await db.withStore(async (store) => {
        await withServer(store, { auth: { clientId: 'portal-bridge', jwks: { keys: [jwk] } } }, async ({ server, http, backfill, log }) => {
          server.addFamilies({ guardians: 4, childrenPer: 2 });
          const auth = await createSmartAuth({ tokenUrl: server.tokenUrl, clientId: 'portal-bridge', scope: 'system/*.rs', privateKeyFile: keyFile, alg: 'ES384', kid: 'k1', log });
          const report = await backfill({ http: http({ auth }) });
          expect(report).toMatchObject({ mode: 'export', stored: 16 });
          expect(server.tokensIssued).toBe(1);
          const fhir = server.requests().filter((r) => r.path.startsWith('/fhir/') && r.path !== '/fhir/metadata');
          expect(fhir.filter((r) => r.path.includes('/$export-file/')).length).toBeGreaterThan(2);
          expect(fhir.every((r) => r.authorized)).toBe(true);
        });
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
