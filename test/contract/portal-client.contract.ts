/**
 * The PortalClient contract (STYLE rule 7): every portal adapter — and any fake — must pass this suite.
 * Each test gets a fresh portal from `setup()` and closes it.
 */
import { BridgeError, type ErrorCode } from '../../src/errors';
import type { NewAccount } from '../../src/portal/port';
import type { PortalHarness } from './portal-harness';

export type { ContractFaults, ContractOutboxItem, PortalHarness } from './portal-harness';

let seq = 0;
/** A new account with unique externalId and email. */
function newAccount(overrides: Partial<NewAccount> = {}): NewAccount {
  seq += 1;
  return { externalId: `g-${seq}`, email: `guardian${seq}@example.org`, givenName: 'Nora', familyName: 'Sample', ...overrides };
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<BridgeError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BridgeError);
  expect((error as BridgeError).code).toBe(code);
  return error as BridgeError;
}

const link = (accessLevel: 'full' | 'limited') => ({ accessLevel, patient: { givenName: 'Theo', familyName: 'Sample', birthDate: '2019-04-02' } });

/** Registers the contract suite for one adapter. */
export function portalClientContract(name: string, setup: () => Promise<PortalHarness>): void {
  describe(`PortalClient contract: ${name}`, () => {
    let h: PortalHarness;
    beforeEach(async () => {
      h = await setup();
    });
    afterEach(async () => {
      await h.close();
    });

    test('create, then find by externalId and by email (any case), and get by id', async () => {
      const input = newAccount();
      const created = await h.client.createAccount(input, 'k-create');
      expect(created).toMatchObject({ externalId: input.externalId, email: input.email, status: 'invited', createdBy: 'bridge', links: [] });
      expect(created.version).not.toBe('');
      expect(await h.client.findAccount({ externalId: input.externalId })).toEqual(created);
      expect(await h.client.findAccount({ email: input.email.toUpperCase() })).toEqual(created);
      expect(await h.client.getAccount(created.id)).toEqual(created);
      expect(await h.client.findAccount({ externalId: 'nobody' })).toBeUndefined();
      expect(await h.client.getAccount('no-such-account')).toBeUndefined();
    });

    test('create is idempotent by key: same key → the same account, only one exists', async () => {
      const input = newAccount();
      const first = await h.client.createAccount(input, 'k-replay');
      const second = await h.client.createAccount(input, 'k-replay');
      expect(second.id).toBe(first.id);
      const changes = await h.client.listChanges();
      expect(changes.items.filter((c) => c.externalId === input.externalId)).toHaveLength(1);
    });

    test('the same key with another body is refused as invalid', async () => {
      await h.client.createAccount(newAccount(), 'k-reuse');
      await expectCode(h.client.createAccount(newAccount(), 'k-reuse'), 'ERR_PORTAL_INVALID_REQUEST');
    });

    test('an email is unique across accounts (case-insensitive), on create and on update', async () => {
      const a = newAccount();
      await h.client.createAccount(a, 'k-a');
      await expectCode(h.client.createAccount(newAccount({ email: a.email.toUpperCase() }), 'k-b'), 'ERR_PORTAL_EMAIL_IN_USE');
      const c = await h.client.createAccount(newAccount(), 'k-c');
      await expectCode(h.client.updateAccount(c.id, { email: a.email }, c.version, 'k-c-upd'), 'ERR_PORTAL_EMAIL_IN_USE');
    });

    test('update needs the current version; a stale one is a precondition failure', async () => {
      const a = await h.client.createAccount(newAccount(), 'k-u');
      const updated = await h.client.updateAccount(a.id, { email: 'moved@example.org', givenName: 'Nor' }, a.version, 'k-u1');
      expect(updated.email).toBe('moved@example.org');
      expect(updated.version).not.toBe(a.version);
      await expectCode(h.client.updateAccount(a.id, { givenName: 'Nora' }, a.version, 'k-u2'), 'ERR_PORTAL_PRECONDITION_FAILED');
      await expectCode(h.client.updateAccount('no-such-account', { givenName: 'X' }, '1', 'k-u3'), 'ERR_PORTAL_NOT_FOUND');
      await expectCode(h.client.updateAccount(a.id, { email: 'not an email' }, updated.version, 'k-u4'), 'ERR_PORTAL_INVALID_REQUEST');
    });

    test('link, re-level, unlink; unlinking what is not linked succeeds', async () => {
      const a = await h.client.createAccount(newAccount(), 'k-l');
      await h.client.linkDependent(a.id, 'P1', link('full'), 'k-l1');
      await h.client.linkDependent(a.id, 'P1', link('full'), 'k-l1');
      expect((await h.client.getAccount(a.id))?.links).toEqual([{ patientId: 'P1', accessLevel: 'full', status: 'pending' }]);
      await h.client.linkDependent(a.id, 'P1', link('limited'), 'k-l1');
      expect((await h.client.getAccount(a.id))?.links).toEqual([{ patientId: 'P1', accessLevel: 'limited', status: 'pending' }]);
      await h.client.unlinkDependent(a.id, 'P1', 'k-l2');
      await h.client.unlinkDependent(a.id, 'P1', 'k-l2');
      await h.client.unlinkDependent(a.id, 'P-never', 'k-l3');
      expect((await h.client.getAccount(a.id))?.links).toEqual([]);
      await expectCode(h.client.linkDependent('no-such-account', 'P1', link('full'), 'k-l4'), 'ERR_PORTAL_NOT_FOUND');
    });

    test('disable is idempotent; a disabled account takes no dependents and no welcome; enable brings it back', async () => {
      const a = await h.client.createAccount(newAccount(), 'k-d');
      await h.client.disableAccount(a.id, 'k-d1');
      await h.client.disableAccount(a.id, 'k-d1');
      const disabled = await h.client.getAccount(a.id);
      expect(disabled?.status).toBe('disabled');
      await expectCode(h.client.linkDependent(a.id, 'P1', link('full'), 'k-d2'), 'ERR_PORTAL_FORBIDDEN');
      await expectCode(h.client.sendInvitation({ accountId: a.id, channel: 'email', method: 'link', trigger: 'created' }, 'k-d3'), 'ERR_PORTAL_FORBIDDEN');
      await expectCode(h.client.disableAccount('no-such-account', 'k-d4'), 'ERR_PORTAL_NOT_FOUND');
      const enabled = await h.client.updateAccount(a.id, { enable: true }, disabled?.version ?? '', 'k-d5');
      expect(enabled.status).toBe('invited');
    });

    test('an invitation is sent once per key, whatever the number of calls', async () => {
      const a = await h.client.createAccount(newAccount(), 'k-i');
      const invitation = { accountId: a.id, channel: 'email', method: 'link', trigger: 'created' } as const;
      const first = await h.client.sendInvitation(invitation, 'k-i1');
      const again = await h.client.sendInvitation(invitation, 'k-i1');
      expect(again.invitationId).toBe(first.invitationId);
      expect((await h.outbox()).filter((o) => o.accountId === a.id)).toHaveLength(1);
      await h.client.sendInvitation({ ...invitation, trigger: 'resend:1' }, 'k-i2');
      expect((await h.outbox()).map((o) => o.trigger)).toEqual(['created', 'resend:1']);
      await expectCode(h.client.sendInvitation({ ...invitation, accountId: 'no-such-account' }, 'k-i3'), 'ERR_PORTAL_NOT_FOUND');
    });

    test('the changes feed reports the first login', async () => {
      const a = await h.client.createAccount(newAccount(), 'k-f');
      await h.client.linkDependent(a.id, 'P1', link('full'), 'k-f1');
      const before = await h.client.listChanges();
      expect(before.items.map((i) => [i.accountId, i.status])).toEqual([[a.id, 'invited']]);
      await h.login(a.id);
      const after = await h.client.listChanges(before.nextCursor);
      expect(after.items).toEqual([{ accountId: a.id, externalId: a.externalId, status: 'active', at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/) }]);
      expect(await h.client.listChanges(after.nextCursor)).toEqual({ items: [], nextCursor: after.nextCursor });
      const account = await h.client.getAccount(a.id);
      expect(account?.status).toBe('active');
      expect(account?.links).toEqual([{ patientId: 'P1', accessLevel: 'full', status: 'active' }]);
    });

    test('a cursor older than the retained changes has expired', async () => {
      const start = await h.client.listChanges();
      for (const n of [1, 2, 3]) await h.client.createAccount(newAccount(), `k-r${n}`);
      await h.retainChanges(1);
      await expectCode(h.client.listChanges(start.nextCursor), 'ERR_PORTAL_CURSOR_EXPIRED');
      const resync = await h.client.listChanges();
      expect(resync.items).toHaveLength(1);
    });

    test('429 is rate limited, with Retry-After in milliseconds', async () => {
      await h.faults({ rateLimit: { every: 1, retryAfterSeconds: 7 } });
      const e = await expectCode(h.client.findAccount({ externalId: 'x' }), 'ERR_PORTAL_RATE_LIMITED');
      expect(e.retryAfterMs).toBe(7000);
      expect(e.status).toBe(429);
    });

    test('5xx is unavailable (503 with Retry-After carries it)', async () => {
      await h.faults({ errorRate: 1, errorStatus: 500 });
      const e = await expectCode(h.client.createAccount(newAccount(), 'k-5'), 'ERR_PORTAL_UNAVAILABLE');
      expect(e.status).toBe(500);
      await h.faults({ errorRate: 1, errorStatus: 503, errorRetryAfterSeconds: 3 });
      expect((await expectCode(h.client.listChanges(), 'ERR_PORTAL_UNAVAILABLE')).retryAfterMs).toBe(3000);
      await h.faults(null);
      await h.client.createAccount(newAccount(), 'k-5');
    });

    test('a connection dropped after commit is ambiguous; a retry with the same key returns the committed result', async () => {
      const input = newAccount();
      await h.faults({ dropAfterCommitRate: 1 });
      await expectCode(h.client.createAccount(input, 'k-x'), 'ERR_PORTAL_TIMEOUT');
      await h.faults(null);
      const created = await h.client.createAccount(input, 'k-x');
      expect((await h.client.findAccount({ externalId: input.externalId }))?.id).toBe(created.id);
      expect((await h.client.listChanges()).items.filter((c) => c.externalId === input.externalId)).toHaveLength(1);

      const invitation = { accountId: created.id, channel: 'email', method: 'link', trigger: 'created' } as const;
      await h.faults({ dropAfterCommitRate: 1 });
      await expectCode(h.client.sendInvitation(invitation, 'k-xi'), 'ERR_PORTAL_TIMEOUT');
      await h.faults(null);
      const sent = await h.client.sendInvitation(invitation, 'k-xi');
      const outbox = await h.outbox();
      expect(outbox).toHaveLength(1);
      expect(outbox[0]?.invitationId).toBe(sent.invitationId);
    });

    test('a portal that is not listening is a connection error', async () => {
      await h.close();
      await expectCode(h.client.getAccount('any'), 'ERR_PORTAL_CONNECTION');
    });
  });
}
