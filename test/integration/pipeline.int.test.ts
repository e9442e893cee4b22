import { describeEachDatabase } from '../helpers/db';
import { pollPortalChanges } from '../../src/reconcile/portal-changes';
import { enqueueReevaluation } from '../../src/reconcile/reevaluate';
import { startPipeline, type Pipeline } from '../helpers/pipeline';

// Issue #3: inbox → mapping → snapshot → jobs → reconcile → sandbox portal over HTTP, on SQLite and PostgreSQL.
jest.setTimeout(60_000);

let seq = 0;
function msg(time: string, pid: string, child: string, contacts: { name: string; rel: string; email?: string; id?: string; auth: string; staff?: boolean }[]): string {
  const segments = [`MSH|^~\\&|EHR|CLINIC|PORTAL|CLINIC|${time}||ADT^A08^ADT_A01|T${++seq}|P|2.5.1`, `PID|1||${pid}^^^CLINIC^MR||${child}||20180305|F`];
  contacts.forEach((c, i) => {
    const nk1 = Array.from({ length: 34 }, () => '');
    nk1[0] = 'NK1';
    nk1[1] = String(i + 1);
    nk1[2] = c.name;
    nk1[3] = c.rel;
    nk1[5] = c.email === undefined ? '' : `^NET^Internet^${c.email}`;
    nk1[33] = c.id ?? '';
    segments.push(nk1.join('|'), `ZNK|${i + 1}|${c.auth}|N|N|${c.staff === true ? 'Y' : 'N'}`);
  });
  return segments.join('\r');
}

const ada = { name: 'Testperson^Ada', rel: 'MTH', email: 'ada.testperson@example.org', id: 'C501', auth: 'J' };

describeEachDatabase('pipeline', (db) => {
  let p: Pipeline | undefined;
  afterEach(async () => {
    await p?.close();
    p = undefined;
  });

  async function accounts(pipeline: Pipeline, store: Parameters<Parameters<typeof db.withStore>[0]>[0]) {
    const rows = await store.ledger.listAccounts({ limit: 100 });
    return Promise.all(rows.map(async (a) => ({ key: a.guardianKey, email: a.email, status: a.status, links: (await store.ledger.listLinks(a.guardianKey)).filter((l) => l.status === 'linked').map((l) => l.patientId) })));
  }

  test('siblings under one parent: one account, both children, one welcome — however often the input comes', () =>
    db.withStore(async (store) => {
      p = await startPipeline(store);
      const input = [msg('20260110090000', 'P1001', 'Testperson^Mia', [ada]), msg('20260110090100', 'P1002', 'Testperson^Leo', [ada])];
      await p.feed(input);
      await p.drain();
      expect(await accounts(p, store)).toEqual([{ key: 'c:C501', email: 'ada.testperson@example.org', status: 'invited', links: ['P1001', 'P1002'] }]);
      expect((await p.control.outbox()).map((o) => o.trigger)).toEqual(['created']);

      // The same input twice more (retransmissions are deduplicated; resent copies with new control ids are not).
      await p.feed(input);
      await p.feed(input.map((m) => m.replace(/\|T(\d+)\|P\|/, '|R$1|P|')));
      await p.drain();
      // Replaying every job changes nothing either.
      await store.jobs.enqueue(['c:C501'], { now: new Date('2026-01-15T16:00:00Z') });
      await p.drain();
      expect(await p.control.outbox()).toHaveLength(1);
      // Job log lines name the guardian by keyed ref only (the key embeds the email).
      const reconciled = p.logLines.filter((l) => l.includes('"guardian reconciled"'));
      expect(reconciled.length).toBeGreaterThan(0);
      for (const line of reconciled) expect(line).toMatch(/"guardianRef":"g_[0-9a-f]{16}"/);
      expect(p.logLines.join('\n')).not.toContain('C501');
    }));

  test('two parents sharing one email: a conflict, no account for either', () =>
    db.withStore(async (store) => {
      p = await startPipeline(store);
      await p.feed([msg('20260110090000', 'P2001', 'Sample^Theo', [
        { name: 'Sample^Bea', rel: 'MTH', email: 'shared@example.org', auth: 'J' },
        { name: 'Sample^Cal', rel: 'FTH', email: 'shared@example.org', auth: 'J' },
      ])]);
      await p.drain();
      expect(await accounts(p, store)).toEqual([]);
      expect(await p.control.outbox()).toEqual([]);
      expect((await store.conflicts.listConflicts({ limit: 10 })).map((c) => c.emailKey)).toEqual(['shared@example.org']);
    }));

  test('authority None → no account; then Joint → account and one welcome', () =>
    db.withStore(async (store) => {
      p = await startPipeline(store);
      await p.feed([msg('20260110090000', 'P3001', 'Example^Ivy', [{ ...ada, auth: 'N' }])]);
      await p.drain();
      expect(await accounts(p, store)).toEqual([]);
      await p.feed([msg('20260111090000', 'P3001', 'Example^Ivy', [ada])]);
      await p.drain();
      expect((await accounts(p, store)).map((a) => a.links)).toEqual([['P3001']]);
      expect(await p.control.outbox()).toHaveLength(1);
    }));

  test('email change before activation → one resend to the new address; after activation → held, nothing sent', () =>
    db.withStore(async (store) => {
      p = await startPipeline(store);
      await p.feed([msg('20260110090000', 'P4001', 'Example^Ivy', [ada])]);
      await p.drain();
      await p.feed([msg('20260111090000', 'P4001', 'Example^Ivy', [{ ...ada, email: 'ada.new@example.org' }])]);
      await p.drain();
      const outbox = await p.control.outbox();
      expect(outbox.map((o) => [o.trigger, o.email])).toEqual([
        ['created', 'ada.testperson@example.org'],
        ['email:ada.new@example.org', 'ada.new@example.org'],
      ]);
      await p.control.login({ email: 'ada.new@example.org' });
      await p.feed([msg('20260112090000', 'P4001', 'Example^Ivy', [{ ...ada, email: 'ada.third@example.org' }])]);
      await p.drain();
      expect(await p.control.outbox()).toHaveLength(2);
      const account = await store.ledger.getAccount('c:C501');
      expect(account?.email).toBe('ada.new@example.org');
      expect((await store.audit.listAudit({ guardianKey: 'c:C501' })).some((a) => a.rule === 'R19' && a.op === 'hold')).toBe(true);
    }));

  test('a parent removed from the chart is unlinked and, with no dependents left, disabled', () =>
    db.withStore(async (store) => {
      p = await startPipeline(store);
      await p.feed([msg('20260110090000', 'P5001', 'Example^Ivy', [ada])]);
      await p.drain();
      await p.feed([msg('20260111090000', 'P5001', 'Example^Ivy', [{ name: 'Example^Gus', rel: 'FTH', email: 'gus@example.org', auth: 'J' }])]);
      await p.drain();
      const all = await accounts(p, store);
      expect(all.find((a) => a.key === 'c:C501')).toEqual({ key: 'c:C501', email: 'ada.testperson@example.org', status: 'disabled', links: [] });
      expect(all.find((a) => a.email === 'gus@example.org')?.links).toEqual(['P5001']);
    }));

  test('first login reaches the ledger through the portal changes feed', () =>
    db.withStore(async (store) => {
      p = await startPipeline(store);
      await p.feed([msg('20260110090000', 'P6001', 'Example^Ivy', [ada])]);
      await p.drain();
      await p.control.login({ email: 'ada.testperson@example.org' });
      expect(await pollPortalChanges(p.reconcile)).toBe(1);
      expect((await store.ledger.getAccount('c:C501'))?.status).toBe('active');
      expect(await pollPortalChanges(p.reconcile)).toBe(0);
      await p.drain();
    }));

  test('the daily re-evaluation ages a patient out without a new message (R14)', () =>
    db.withStore(async (store) => {
      p = await startPipeline(store);
      const teen = msg('20260110090000', 'P7001', 'Example^Sam', [ada])
        .replace('||20180305|F', '||20080201|M|||||^NET^Internet^sam.example@example.org');
      await p.feed([teen]);
      await p.drain();
      expect((await store.ledger.listLinks('c:C501')).map((l) => [l.patientId, l.status])).toEqual([['P7001', 'linked']]);
      p.setClock(new Date('2026-02-02T15:00:00Z'));
      expect(await enqueueReevaluation(p.reconcile)).toBeGreaterThan(0);
      await p.drain();
      expect((await store.ledger.listLinks('c:C501')).map((l) => [l.patientId, l.status])).toEqual([['P7001', 'unlinked']]);
      const own = (await store.ledger.listAccounts({ limit: 10 })).find((a) => a.email === 'sam.example@example.org');
      expect(own).toBeDefined();
      expect((await store.ledger.listLinks(own!.guardianKey)).map((l) => l.patientId)).toEqual(['P7001']);
      expect((await p.control.outbox()).map((o) => o.email).sort()).toEqual(['ada.testperson@example.org', 'sam.example@example.org']);
    }));

  test('authority change while invited → one resend; the same authority again → nothing; after activation → nothing', () =>
    db.withStore(async (store) => {
      p = await startPipeline(store);
      await p.feed([msg('20260110090000', 'P8001', 'Example^Ivy', [ada])]);
      await p.drain();
      await p.feed([msg('20260111090000', 'P8001', 'Example^Ivy', [{ ...ada, auth: 'E' }])]);
      await p.drain();
      await p.feed([msg('20260112090000', 'P8001', 'Example^Ivy', [{ ...ada, auth: 'E' }])]);
      await p.drain();
      const triggers = (await p.control.outbox()).map((o) => o.trigger);
      expect(triggers).toHaveLength(2);
      expect(triggers[0]).toBe('created');
      expect(triggers[1]).toMatch(/^authority:\d+$/);
      await p.control.login({ email: 'ada.testperson@example.org' });
      await pollPortalChanges(p.reconcile);
      await p.feed([msg('20260113090000', 'P8001', 'Example^Ivy', [ada])]);
      await p.drain();
      expect(await p.control.outbox()).toHaveLength(2);
      expect(await store.welcomeTriggers.listWelcomeTriggers('c:C501')).toEqual([]);
    }));

  test('a welcome claimed but never confirmed (the send failed after the email update) is still sent once', () =>
    db.withStore(async (store) => {
      p = await startPipeline(store);
      await p.feed([msg('20260110090000', 'P9001', 'Example^Ivy', [ada])]);
      await p.drain();
      // The state a failed run leaves: the portal already has the new email, the welcome is claimed, not sent.
      const account = await store.ledger.getAccount('c:C501');
      const portalAccount = await p.reconcile.portal.getAccount(account!.portalId!);
      await p.reconcile.portal.updateAccount(portalAccount!.id, { email: 'ada.new@example.org' }, portalAccount!.version, 'test-update-1');
      await store.ledger.recordInvitationIntent({ idempotencyKey: 'test-claim-1', guardianKey: 'c:C501', trigger: 'email:ada.new@example.org' });
      await p.feed([msg('20260111090000', 'P9001', 'Example^Ivy', [{ ...ada, email: 'ada.new@example.org' }])]);
      await p.drain();
      expect((await p.control.outbox()).map((o) => o.trigger)).toEqual(['created', 'email:ada.new@example.org']);
      await store.jobs.enqueue(['c:C501'], { now: new Date('2026-01-15T16:00:00Z') });
      await p.drain();
      expect(await p.control.outbox()).toHaveLength(2);
    }));
  test('every portal change is preceded by its pending intent in the ledger (DESIGN §5), though ops share commits', () =>
    db.withStore(async (store) => {
      const seen: string[] = [];
      const intentFirst = async (what: string, key: string): Promise<void> => {
        const effect = await store.ledger.getSideEffect(key);
        seen.push(`${what}:${effect?.status ?? 'none'}`);
      };
      p = await startPipeline(store, {
        wrapPortal: (portal) => ({
          ...portal,
          createAccount: async (account, key) => (await intentFirst('create', key), portal.createAccount(account, key)),
          linkDependent: async (id, patientId, link, key) => (await intentFirst(`link ${patientId}`, key), portal.linkDependent(id, patientId, link, key)),
          sendInvitation: async (invitation, key) => {
            await intentFirst('welcome', key);
            seen.push(`claim:${(await store.ledger.getInvitation({ guardianKey: 'c:C501', trigger: invitation.trigger }))?.status ?? 'none'}`);
            return portal.sendInvitation(invitation, key);
          },
        }),
      });
      await p.feed([msg('20260110090000', 'P1001', 'Testperson^Mia', [ada]), msg('20260110090100', 'P1002', 'Testperson^Leo', [ada])]);
      await p.drain();
      expect(seen).toEqual(['create:pending', 'link P1001:pending', 'link P1002:pending', 'welcome:pending', 'claim:pending']);
      // Afterwards every intent has its result.
      expect(await store.ledger.listPendingSideEffects({ limit: 10 })).toEqual([]);
      expect(await store.jobs.counts()).toMatchObject({ succeeded: 1 });
    }));
});
