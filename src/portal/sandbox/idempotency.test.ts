import { requestFingerprint } from './idempotency';
import { startSandboxPortal, type RunningSandbox } from './server';

const body = { externalId: 'g-1', email: 'nora@example.org', givenName: 'Nora', familyName: 'Sample' };

async function post(base: string, url: string, data: unknown, key: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}${url}`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(data) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function faults(base: string, f: unknown): Promise<void> {
  await fetch(`${base}/v1/_faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(f) });
}

test('the fingerprint ignores key order and undefined fields, not values, method or path', () => {
  const a = requestFingerprint('POST', '/v1/accounts', { a: 1, b: { c: [1, 2], d: 'x' } });
  expect(requestFingerprint('POST', '/v1/accounts', { b: { d: 'x', c: [1, 2] }, a: 1, e: undefined })).toBe(a);
  expect(requestFingerprint('POST', '/v1/accounts', { a: 1, b: { c: [2, 1], d: 'x' } })).not.toBe(a);
  expect(requestFingerprint('PATCH', '/v1/accounts', { a: 1, b: { c: [1, 2], d: 'x' } })).not.toBe(a);
  expect(requestFingerprint('POST', '/v1/invitations', { a: 1, b: { c: [1, 2], d: 'x' } })).not.toBe(a);
});

describe('concurrent requests with one key', () => {
  let sandbox: RunningSandbox;
  beforeEach(async () => {
    sandbox = await startSandboxPortal();
  });
  afterEach(() => sandbox.close());

  test('without latency: both get the one account (the second is a replay)', async () => {
    const answers = await Promise.all([1, 2, 3, 4].map(() => post(sandbox.url, '/v1/accounts', body, 'same')));
    expect(answers.map((a) => a.status)).toEqual([201, 201, 201, 201]);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
  });

  test('while the first is in flight the second is 409 in_flight; after it, a replay', async () => {
    await faults(sandbox.url, { latencyMs: 150 });
    const [first, second] = await Promise.all([
      post(sandbox.url, '/v1/accounts', body, 'same'),
      new Promise((r) => setImmediate(r)).then(() => post(sandbox.url, '/v1/accounts', body, 'same')),
    ]);
    const statuses = [first.status, second.status].sort();
    expect(statuses).toEqual([201, 409]);
    const conflict = first.status === 409 ? first : second;
    expect(conflict.body).toMatchObject({ status: 409, code: 'in_flight' });
    await faults(sandbox.url, {});
    const replay = await post(sandbox.url, '/v1/accounts', body, 'same');
    expect(replay.body.id).toBe((first.status === 201 ? first : second).body.id);
    const list = (await (await fetch(`${sandbox.url}/v1/accounts?externalId=g-1`)).json()) as unknown[];
    expect(list).toHaveLength(1);
  });

  test('concurrent invitations with one key send one welcome', async () => {
    const account = await post(sandbox.url, '/v1/accounts', body, 'acc');
    await faults(sandbox.url, { latencyMs: 50 });
    const invitation = { accountId: account.body.id, channel: 'email', method: 'link', trigger: 'created' };
    const answers = await Promise.all([1, 2, 3].map(() => post(sandbox.url, '/v1/invitations', invitation, 'inv')));
    expect(answers.filter((a) => a.status === 202)).toHaveLength(1);
    await faults(sandbox.url, {});
    await post(sandbox.url, '/v1/invitations', invitation, 'inv');
    const outbox = (await (await fetch(`${sandbox.url}/v1/_outbox`)).json()) as { items: unknown[] };
    expect(outbox.items).toHaveLength(1);
  });
});
