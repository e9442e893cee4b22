import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BridgeError } from '../../errors';
import { createRestPortalClient } from './client';

/** A stub portal: answers each request with what `handler` says; `null` never answers. */
type StubAnswer = { status: number; body?: string; headers?: Record<string, string> } | null;

async function stub(handler: (req: http.IncomingMessage, body: string) => StubAnswer) {
  const seen: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const answer = handler(req, body);
      if (answer === null) return;
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(answer.body ?? '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function failure(p: Promise<unknown>): Promise<BridgeError> {
  const e: unknown = await p.then(() => undefined, (x: unknown) => x);
  if (!(e instanceof BridgeError)) throw new Error(`expected a BridgeError, got ${String(e)}`);
  return e;
}

const account = { id: 'a1', externalId: 'g-1', email: 'nora@example.org', status: 'invited', createdBy: 'bridge', version: 3, links: [], extra: 'ignored' };

test('sends keys, If-Match as an entity tag, custom headers; tolerates extra fields, numeric versions', async () => {
  const s = await stub(() => ({ status: 200, body: JSON.stringify(account) }));
  try {
    const client = createRestPortalClient({ baseUrl: `${s.url}/`, headers: { authorization: 'Bearer t' } });
    const updated = await client.updateAccount('a 1', { givenName: 'Nora' }, '3', 'key-1');
    expect(updated).toEqual({ id: 'a1', externalId: 'g-1', email: 'nora@example.org', status: 'invited', createdBy: 'bridge', version: '3', links: [] });
    const req = s.seen[0]!;
    expect([req.method, req.url, req.headers['if-match'], req.headers['idempotency-key'], req.headers.authorization]).toEqual(['PATCH', '/v1/accounts/a%201', '"3"', 'key-1', 'Bearer t']);
    await client.disableAccount('a1', 'key-2');
    expect(s.seen[1]!.headers['content-type']).toBeUndefined();
  } finally {
    await s.close();
  }
});

test('a malformed 2xx body is ERR_PORTAL_UNEXPECTED naming fields, never values', async () => {
  let body = 'not json';
  const s = await stub(() => ({ status: 200, body }));
  try {
    const client = createRestPortalClient({ baseUrl: s.url });
    expect((await failure(client.getAccount('a1'))).code).toBe('ERR_PORTAL_UNEXPECTED');
    body = JSON.stringify({ ...account, status: 'nora@example.org' });
    const e = await failure(client.getAccount('a1'));
    expect(e.message).toBe('GET /v1/accounts/{id} answered 200 with a malformed body (status)');
    body = JSON.stringify([account, { ...account, id: 'a2' }]);
    expect((await failure(client.findAccount({ email: 'nora@example.org' }))).code).toBe('ERR_PORTAL_UNEXPECTED');
    body = '';
    expect((await failure(client.sendInvitation({ accountId: 'a1', channel: 'email', method: 'link', trigger: 'created' }, 'k'))).code).toBe('ERR_PORTAL_UNEXPECTED');
  } finally {
    await s.close();
  }
});

test('no answer after sending is ERR_PORTAL_TIMEOUT (ambiguous)', async () => {
  const s = await stub(() => null);
  try {
    const e = await failure(createRestPortalClient({ baseUrl: s.url, timeoutMs: 100 }).createAccount({ externalId: 'g', email: 'n@example.org', givenName: 'N', familyName: 'S' }, 'k'));
    expect([e.code, e.errorClass]).toEqual(['ERR_PORTAL_TIMEOUT', 'ambiguous']);
    expect(e.message).toMatch(/^POST \/v1\/accounts: no answer after the request was sent \(\w+\)$/);
  } finally {
    await s.close();
  }
});

test('429 with an HTTP-date Retry-After; 404 on getAccount is undefined, elsewhere NOT_FOUND', async () => {
  const s = await stub((req): StubAnswer =>
    req.url?.startsWith('/v1/changes') === true
      ? { status: 429, headers: { 'retry-after': new Date(Date.now() + 60_000).toUTCString() } }
      : { status: 404, body: JSON.stringify({ type: 'about:blank', title: 'Not Found', status: 404, detail: 'x' }), headers: { 'content-type': 'application/problem+json' } },
  );
  try {
    const client = createRestPortalClient({ baseUrl: s.url });
    const e = await failure(client.listChanges('5'));
    expect(e.code).toBe('ERR_PORTAL_RATE_LIMITED');
    expect(e.retryAfterMs).toBeGreaterThan(55_000);
    expect(e.retryAfterMs).toBeLessThanOrEqual(60_000);
    expect(s.seen[0]!.url).toBe('/v1/changes?since=5');
    expect(await client.getAccount('a1')).toBeUndefined();
    expect((await failure(client.unlinkDependent('a1', 'P1', 'k'))).code).toBe('ERR_PORTAL_NOT_FOUND');
  } finally {
    await s.close();
  }
});

test('an unresolvable host is a connection error', async () => {
  const e = await failure(createRestPortalClient({ baseUrl: 'http://portal.invalid', timeoutMs: 2000 }).getAccount('a1'));
  expect(e.code).toBe('ERR_PORTAL_CONNECTION');
});
