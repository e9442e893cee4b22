import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROBLEM_TYPE_BASE } from './problem';
import { startSandboxPortal, type RunningSandbox } from './server';

interface Reply {
  status: number;
  headers: Headers;
  body: unknown;
}

async function call(base: string, method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

const nora = { externalId: 'g-1', email: 'Nora.Sample@example.org', givenName: 'Nora', familyName: 'Sample', cellPhone: '+12025550141' };

describe('sandbox portal over HTTP', () => {
  let sandbox: RunningSandbox;
  let base: string;
  beforeEach(async () => {
    sandbox = await startSandboxPortal();
    base = sandbox.url;
  });
  afterEach(() => sandbox.close());

  test('binds 127.0.0.1 by default', () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  test('errors are application/problem+json {type, title, status, detail, code}', async () => {
    const r = await call(base, 'GET', '/v1/accounts/nope');
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(r.body).toEqual({ type: `${PROBLEM_TYPE_BASE}account_not_found`, title: 'Not Found', status: 404, detail: expect.any(String), code: 'account_not_found' });
    for (const [method, url, body, status, code] of [
      ['GET', '/v1/nowhere', undefined, 404, 'route_not_found'],
      ['GET', '/v1/accounts', undefined, 400, 'invalid_query'],
      ['GET', '/v1/accounts?externalId=a&email=b@example.org', undefined, 400, 'invalid_query'],
      ['POST', '/v1/accounts', nora, 400, 'idempotency_key_required'],
      ['POST', '/v1/invitations', { accountId: 'x' }, 400, 'idempotency_key_required'],
      ['POST', '/v1/_faults', '{not json', 400, 'invalid_request'],
      ['GET', '/v1/changes?since=abc', undefined, 400, 'invalid_cursor'],
    ] as const) {
      const res = await call(base, method, url, body);
      expect([url, res.status, (res.body as { code?: string }).code]).toEqual([url, status, code]);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    }
  });

  test('an invalid body is 422 naming the fields, never their values', async () => {
    const r = await call(base, 'POST', '/v1/accounts', { ...nora, email: 'nora at example', shoeSize: 44 }, { 'idempotency-key': 'k1' });
    expect(r.status).toBe(422);
    const detail = (r.body as { detail: string }).detail;
    expect(detail).toMatch(/email/);
    expect(detail).toMatch(/shoeSize/);
    expect(detail).not.toMatch(/nora at example/);
  });

  test('create answers 201 with Location and ETag; GET shows the documented shape', async () => {
    const created = await call(base, 'POST', '/v1/accounts', nora, { 'idempotency-key': 'k1' });
    expect(created.status).toBe(201);
    const id = (created.body as { id: string }).id;
    expect(created.headers.get('location')).toBe(`/v1/accounts/${id}`);
    const got = await call(base, 'GET', `/v1/accounts/${id}`);
    expect(got.headers.get('etag')).toBe('"1"');
    expect(got.body).toMatchObject({ id, externalId: 'g-1', email: nora.email, status: 'invited', createdBy: 'bridge', version: '1', links: [] });
    expect((got.body as { createdAt: string }).createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const byEmail = await call(base, 'GET', '/v1/accounts?email=NORA.SAMPLE%40EXAMPLE.ORG');
    expect((byEmail.body as unknown[]).length).toBe(1);
  });

  test('PATCH: 428 without If-Match, 412 when it is stale, 200 + new ETag when current; a keyed retry replays', async () => {
    const id = ((await call(base, 'POST', '/v1/accounts', nora, { 'idempotency-key': 'k1' })).body as { id: string }).id;
    expect((await call(base, 'PATCH', `/v1/accounts/${id}`, { givenName: 'Nor' })).status).toBe(428);
    expect((await call(base, 'PATCH', `/v1/accounts/${id}`, { givenName: 'Nor' }, { 'if-match': '"7"' })).status).toBe(412);
    expect((await call(base, 'PATCH', `/v1/accounts/${id}`, {}, { 'if-match': '"1"' })).status).toBe(422);
    const ok = await call(base, 'PATCH', `/v1/accounts/${id}`, { givenName: 'Nor' }, { 'if-match': '"1"', 'idempotency-key': 'p1' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('etag')).toBe('"2"');
    // The same request again (its If-Match is now stale) replays the first answer instead of failing.
    const again = await call(base, 'PATCH', `/v1/accounts/${id}`, { givenName: 'Nor' }, { 'if-match': '"1"', 'idempotency-key': 'p1' });
    expect([again.status, again.headers.get('etag'), again.headers.get('idempotent-replayed')]).toEqual([200, '"2"', 'true']);
    expect((await call(base, 'PATCH', `/v1/accounts/${id}`, { familyName: 'X' }, { 'if-match': '*' })).status).toBe(200);
  });

  test('a 4xx does not keep the key: the corrected retry with the same key succeeds', async () => {
    await call(base, 'POST', '/v1/accounts', nora, { 'idempotency-key': 'k1' });
    const taken = { ...nora, externalId: 'g-2' };
    expect((await call(base, 'POST', '/v1/accounts', taken, { 'idempotency-key': 'k2' })).body).toMatchObject({ status: 409, code: 'email_in_use' });
    expect((await call(base, 'POST', '/v1/accounts', { ...nora, email: 'x@example.org' }, { 'idempotency-key': 'k3' })).body).toMatchObject({ code: 'external_id_in_use' });
    const fixed = await call(base, 'POST', '/v1/accounts', { ...taken, email: 'omar@example.org' }, { 'idempotency-key': 'k2' });
    expect(fixed.status).toBe(201);
    // Now k2 holds a stored answer: the old body under it is a reuse.
    expect((await call(base, 'POST', '/v1/accounts', taken, { 'idempotency-key': 'k2' })).status).toBe(422);
  });

  test('changes: a cursor past the newest change is 410; limit pages', async () => {
    for (const n of [1, 2, 3]) await call(base, 'POST', '/v1/accounts', { ...nora, externalId: `g-${n}`, email: `n${n}@example.org` }, { 'idempotency-key': `k${n}` });
    const page = await call(base, 'GET', '/v1/changes?limit=2');
    expect(page.body).toMatchObject({ nextCursor: '2' });
    expect((await call(base, 'GET', '/v1/changes?since=2')).body).toMatchObject({ items: [{ externalId: 'g-3', status: 'invited' }], nextCursor: '3' });
    expect((await call(base, 'GET', '/v1/changes?since=99')).status).toBe(410);
    expect((await call(base, 'GET', '/v1/changes?limit=0')).status).toBe(400);
  });

  test('hooks: login by email, staff accounts, outbox; faults never touch /v1/_ routes', async () => {
    await call(base, 'POST', '/v1/_faults', { errorRate: 1 });
    expect((await call(base, 'GET', '/v1/accounts?externalId=x')).status).toBe(503);
    const staff = await call(base, 'POST', '/v1/_staff-accounts', { ...nora, status: 'invited' });
    expect(staff.body).toMatchObject({ createdBy: 'staff', status: 'invited' });
    const login = await call(base, 'POST', '/v1/_login', { email: 'nora.sample@EXAMPLE.org' });
    expect(login.body).toMatchObject({ status: 'active', version: '2' });
    expect((await call(base, 'GET', '/v1/_outbox')).body).toEqual({ items: [] });
    expect((await call(base, 'POST', '/v1/_faults', { errorRate: 2 })).status).toBe(422);
    expect((await call(base, 'DELETE', '/v1/_faults')).status).toBe(204);
    expect((await call(base, 'GET', '/v1/accounts?externalId=x')).status).toBe(200);
  });

  test('close() lets a request in flight finish, and does not wait out its keep-alive connection', async () => {
    await call(base, 'POST', '/v1/_faults', { latencyMs: 200 });
    const inFlight = call(base, 'POST', '/v1/accounts', nora, { 'idempotency-key': 'k1' });
    // Wait until the server holds the key: a probe under the same key on another route is then refused as a reuse
    // (before that, the probe claims the key, fails with 404 and releases it).
    const probe = { accountId: 'none', channel: 'email', method: 'link', trigger: 'created' };
    while ((await call(base, 'POST', '/v1/invitations', probe, { 'idempotency-key': 'k1' })).status !== 422);
    const started = Date.now();
    await sandbox.close();
    expect((await inFlight).status).toBe(201);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  test('the same seed gives the same fault sequence', async () => {
    const run = async (): Promise<number[]> => {
      await call(base, 'POST', '/v1/_faults', { errorRate: 0.5, seed: 42 });
      const statuses: number[] = [];
      for (let i = 0; i < 20; i += 1) statuses.push((await call(base, 'GET', '/v1/changes')).status);
      return statuses;
    };
    const first = await run();
    expect(await run()).toEqual(first);
    expect(new Set(first)).toEqual(new Set([200, 503]));
  });
});

describe('sandbox portal on a file', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pb-sandbox-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('keeps accounts and stored answers across restarts (WAL)', async () => {
    const dbFile = path.join(dir, 'portal.db');
    const first = await startSandboxPortal({ dbFile });
    const created = await call(first.url, 'POST', '/v1/accounts', nora, { 'idempotency-key': 'k1' });
    await first.close();
    const second = await startSandboxPortal({ dbFile });
    try {
      const replay = await call(second.url, 'POST', '/v1/accounts', nora, { 'idempotency-key': 'k1' });
      expect([replay.status, replay.body]).toEqual([201, created.body]);
      expect((await call(second.url, 'GET', '/v1/accounts?externalId=g-1')).body).toHaveLength(1);
    } finally {
      await second.close();
    }
  });
});
