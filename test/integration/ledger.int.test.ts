import { describeEachDatabase } from '../helpers/db';

jest.setTimeout(30_000);

const T0 = new Date('2026-01-10T14:00:00.000Z');
const at = (ms: number): Date => new Date(T0.getTime() + ms);

describeEachDatabase('ledger', (db) => {
  test('accounts: insert, replace, find by portal id, status changes, listing', async () => {
    await db.withStore(async (store) => {
      const account = { guardianKey: 'c:C1', email: 'nora@example.org', status: 'invited' as const, createdBy: 'bridge' as const, name: { given: 'Nora', family: 'Sample' } };
      await store.ledger.upsertAccount(account, { now: T0 });
      expect(await store.ledger.getAccount('c:C1')).toEqual({ ...account, portalId: undefined, cellPhone: undefined, version: undefined, updatedAt: T0.toISOString() });
      await store.ledger.upsertAccount({ ...account, portalId: 'acc-1', version: 'v2', cellPhone: '+15555550100' }, { now: at(1) });
      expect(await store.ledger.getAccountByPortalId('acc-1')).toMatchObject({ guardianKey: 'c:C1', version: 'v2', cellPhone: '+15555550100' });
      expect(await store.ledger.setAccountStatus('c:C1', 'active', { now: at(2) })).toBe(true);
      expect(await store.ledger.setAccountStatus('c:none', 'active', { now: at(2) })).toBe(false);
      await store.ledger.upsertAccount({ guardianKey: 'e:x@example.org/x', email: 'x@example.org', status: 'invited', createdBy: 'staff' }, { now: at(3) });
      expect((await store.ledger.listAccounts({ status: 'active', limit: 10 })).map((a) => a.guardianKey)).toEqual(['c:C1']);
      expect((await store.ledger.listAccounts({ limit: 10 })).map((a) => a.guardianKey)).toEqual(['c:C1', 'e:x@example.org/x']);
      // The database refuses one portal account for two guardians.
      await expect(store.ledger.upsertAccount({ guardianKey: 'c:C2', portalId: 'acc-1', email: 'o@example.org', status: 'invited', createdBy: 'bridge' }))
        .rejects.toMatchObject({ code: expect.stringMatching(/^(SQLITE_CONSTRAINT_UNIQUE|23505)$/) });
    });
  });

  test('links: one row per guardian and patient', async () => {
    await db.withStore(async (store) => {
      await store.ledger.upsertLink({ guardianKey: 'c:C1', patientId: 'P2', accessLevel: 'full', status: 'pending' }, { now: T0 });
      await store.ledger.upsertLink({ guardianKey: 'c:C1', patientId: 'P1', accessLevel: 'full', status: 'linked' }, { now: T0 });
      await store.ledger.upsertLink({ guardianKey: 'c:C1', patientId: 'P2', accessLevel: 'limited', status: 'linked' }, { now: at(1) });
      await store.ledger.upsertLink({ guardianKey: 'c:C9', patientId: 'P2', accessLevel: 'full', status: 'unlinked' }, { now: at(1) });
      expect((await store.ledger.listLinks('c:C1')).map((l) => [l.patientId, l.accessLevel, l.status])).toEqual([['P1', 'full', 'linked'], ['P2', 'limited', 'linked']]);
      expect((await store.ledger.listLinksOfPatient('P2')).map((l) => l.guardianKey)).toEqual(['c:C1', 'c:C9']);
    });
  });

  test('invitations: one per guardian and trigger, whatever the concurrency or the key; sent stays sent', async () => {
    await db.withStore(async (store) => {
      const intent = { idempotencyKey: 'k-created', guardianKey: 'c:C1', trigger: 'created' };
      const rows = await Promise.all(Array.from({ length: 10 }, () => store.ledger.recordInvitationIntent(intent, { now: T0 })));
      expect(new Set(rows.map((r) => JSON.stringify(r))).size).toBe(1);
      expect(rows[0]).toMatchObject({ ...intent, status: 'pending', createdAt: T0.toISOString() });

      // Another key for the same (guardian, trigger) gets the existing row back: still one welcome.
      expect(await store.ledger.recordInvitationIntent({ ...intent, idempotencyKey: 'k-other' }, { now: at(1) })).toMatchObject({ idempotencyKey: 'k-created' });

      expect(await store.ledger.recordInvitationResult('k-created', { status: 'failed' }, { now: at(2) })).toBe(true);
      expect((await store.ledger.recordInvitationIntent(intent, { now: at(3) })).status).toBe('pending');
      expect(await store.ledger.recordInvitationResult('k-created', { status: 'sent', portalInvitationId: 'inv-1' }, { now: at(4) })).toBe(true);
      expect(await store.ledger.recordInvitationResult('k-created', { status: 'failed' }, { now: at(5) })).toBe(false);
      expect(await store.ledger.getInvitation({ guardianKey: 'c:C1', trigger: 'created' })).toMatchObject({ status: 'sent', portalInvitationId: 'inv-1', sentAt: at(4).toISOString() });
      expect((await store.ledger.recordInvitationIntent(intent, { now: at(6) })).status).toBe('sent');

      await store.ledger.recordInvitationIntent({ idempotencyKey: 'k-resend', guardianKey: 'c:C1', trigger: 'resend:17' }, { now: at(7) });
      expect((await store.ledger.listInvitations('c:C1')).map((i) => i.trigger)).toEqual(['created', 'resend:17']);
    });
  });

  test('side effects: intent before the call, result after; done stays done; a crash leaves it pending', async () => {
    await db.withStore(async (store) => {
      const intent = { idempotencyKey: 'k1', guardianKey: 'c:C1', op: 'create-account', target: 'nora@example.org' };
      const rows = await Promise.all(Array.from({ length: 5 }, () => store.ledger.recordSideEffectIntent(intent, { now: T0 })));
      expect(rows.every((r) => r.status === 'pending')).toBe(true);
      await store.ledger.recordSideEffectIntent({ idempotencyKey: 'k2', guardianKey: 'c:C1', op: 'link', target: 'P1' }, { now: at(1) });
      expect((await store.ledger.listPendingSideEffects({ guardianKey: 'c:C1', limit: 10 })).map((s) => s.idempotencyKey)).toEqual(['k1', 'k2']);

      expect(await store.ledger.recordSideEffectResult('k1', { status: 'failed', portalStatus: 503, errorCode: 'ERR_PORTAL_UNAVAILABLE' }, { now: at(2) })).toBe(true);
      expect(await store.ledger.recordSideEffectIntent(intent, { now: at(3) })).toMatchObject({ status: 'pending', finishedAt: undefined, createdAt: T0.toISOString() });
      expect(await store.ledger.recordSideEffectResult('k1', { status: 'done', portalStatus: 201 }, { now: at(4) })).toBe(true);
      expect(await store.ledger.recordSideEffectResult('k1', { status: 'failed', portalStatus: 500 }, { now: at(5) })).toBe(false);
      expect(await store.ledger.getSideEffect('k1')).toMatchObject({ status: 'done', portalStatus: 201, errorCode: undefined, finishedAt: at(4).toISOString() });
      expect((await store.ledger.recordSideEffectIntent(intent, { now: at(6) })).status).toBe('done');
      expect((await store.ledger.listPendingSideEffects({ limit: 10 })).map((s) => s.idempotencyKey)).toEqual(['k2']);
    });
  });
});

describeEachDatabase('audit, conflicts, cursors', (db) => {
  test('audit rows append in order and list newest first, by guardian or patient, with paging', async () => {
    await db.withStore(async (store) => {
      await store.audit.appendAudit([
        { at: T0, actor: 'daemon', guardianKey: 'c:C1', patientId: 'P1', rule: 'R20', op: 'create-account', idempotencyKey: 'k1', portalStatus: 201, inboxId: 5, detail: { trigger: 'created', warnings: ['R13'] } },
        { at: at(1), actor: 'daemon', guardianKey: 'c:C1', patientId: 'P2', rule: 'R04' },
        { at: at(2), actor: 'staff:17', guardianKey: 'c:C2', op: 'replay' },
      ]);
      const forC1 = await store.audit.listAudit({ guardianKey: 'c:C1' });
      expect(forC1.map((r) => r.rule)).toEqual(['R04', 'R20']);
      expect(forC1[1]).toMatchObject({ at: T0.toISOString(), actor: 'daemon', patientId: 'P1', op: 'create-account', idempotencyKey: 'k1', portalStatus: 201, inboxId: 5, detail: { trigger: 'created', warnings: ['R13'] } });
      expect(forC1[0]?.detail).toBeUndefined();
      expect((await store.audit.listAudit({ patientId: 'P2' })).map((r) => r.rule)).toEqual(['R04']);
      expect((await store.audit.listAudit({ inboxId: 5 })).map((r) => r.rule)).toEqual(['R20']);
      const page1 = await store.audit.listAudit({ limit: 2 });
      expect(page1.map((r) => r.actor)).toEqual(['staff:17', 'daemon']);
      expect((await store.audit.listAudit({ limit: 2, beforeId: page1[1]!.id })).map((r) => r.rule)).toEqual(['R20']);
    });
  });

  test('conflicts: one per email-key, replaced, listed, resolved', async () => {
    await db.withStore(async (store) => {
      await store.conflicts.upsertConflict({ emailKey: 'shared@example.org', guardianKeys: ['c:C2', 'c:C1', 'c:C1'], patientIds: ['P1'] }, { now: T0 });
      await store.conflicts.upsertConflict({ emailKey: 'shared@example.org', guardianKeys: ['c:C2', 'c:C1'], patientIds: ['P2', 'P1'] }, { now: at(1) });
      expect(await store.conflicts.getConflict('shared@example.org')).toEqual({ emailKey: 'shared@example.org', guardianKeys: ['c:C1', 'c:C2'], patientIds: ['P1', 'P2'], updatedAt: at(1).toISOString() });
      expect(await store.conflicts.listConflicts({ limit: 10 })).toHaveLength(1);
      expect(await store.conflicts.resolveConflict('shared@example.org')).toBe(true);
      expect(await store.conflicts.resolveConflict('shared@example.org')).toBe(false);
      expect(await store.conflicts.getConflict('shared@example.org')).toBeUndefined();
    });
  });

  test('cursors: set, advance, delete', async () => {
    await db.withStore(async (store) => {
      expect(await store.cursors.getCursor('fhir:main')).toBeUndefined();
      await store.cursors.setCursor('fhir:main', '2026-01-10T14:00:00Z', { now: T0 });
      await store.cursors.setCursor('fhir:main', '2026-01-10T15:00:00Z', { now: at(1) });
      expect(await store.cursors.getCursor('fhir:main')).toBe('2026-01-10T15:00:00Z');
      await store.cursors.deleteCursor('fhir:main');
      expect(await store.cursors.getCursor('fhir:main')).toBeUndefined();
    });
  });
});
