import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { exportPKCS8, generateKeyPair } from 'jose';
import { BridgeError } from '../../src/errors';
import { createLogger } from '../../src/log';
import { createFhirHttp, type FhirBundle, type FhirHttpOptions } from './fhir-http';
import { createSmartAuth, type TokenProvider } from './smart-auth';

function capture() {
  const lines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (c: Buffer) => lines.push(...c.toString('utf8').split('\n').filter((l) => l !== '')));
  return { log: createLogger({ level: 'debug', stream }), lines };
}

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly at: number;
}
type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void | Promise<void>;

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => { s.closeAllConnections(); s.close(resolve); })));
});

/** A FHIR stub on 127.0.0.1:0 with base `/fhir`; `seen` lists every request, `n` counts from 1. */
async function fhirServer(handler: Handler): Promise<{ base: string; origin: string; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, at: performance.now() });
    void Promise.resolve(handler(req, res, seen.length)).catch((e: unknown) => {
      res.statusCode = 599;
      res.end(String(e));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base: `${origin}/fhir`, origin, seen, server };
}

function fhirJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/fhir+json', ...headers });
  res.end(JSON.stringify(body));
}

const outcome = (code: string, diagnostics: string) => ({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics }] });
const bundle = (extra: Partial<FhirBundle> = {}): FhirBundle => ({ resourceType: 'Bundle', type: 'searchset', entry: [], ...extra });

/** Tokens t1, t2, …; `invalidated` lists what the HTTP layer gave back. */
function fakeAuth() {
  let n = 0;
  let current: string | undefined;
  const invalidated: string[] = [];
  const auth: TokenProvider = {
    token: async () => (current ??= `t${++n}`),
    invalidate: (token) => {
      invalidated.push(token);
      if (token === current) current = undefined;
    },
  };
  return { auth, invalidated, issued: () => n };
}

const fast = { retries: 3, minTimeoutMs: 5, maxTimeoutMs: 20 };
function http(base: string, extra: Partial<FhirHttpOptions> = {}) {
  const { log, lines } = capture();
  return { fhir: createFhirHttp({ baseUrl: base, retry: fast, log, ...extra }), lines };
}

test('search sends the bearer token, Accept and User-Agent, and returns the Bundle', async () => {
  const srv = await fhirServer((_req, res) => fhirJson(res, 200, bundle({ total: 1, entry: [{ resource: { resourceType: 'Patient', id: 'p1' } }] })));
  const { auth } = fakeAuth();
  const { fhir } = http(srv.base, { auth, userAgent: 'portal-bridge/test' });
  const found = await fhir.search('Patient', { _lastUpdated: 'gt2026-01-01', _count: 50 });
  expect(found.total).toBe(1);
  expect(Object.getOwnPropertyNames(found)).not.toContain('__request'); // fhir-kit-client's hidden Request carries the token
  expect(srv.seen).toHaveLength(1);
  const [req] = srv.seen;
  expect(req!.url).toBe('/fhir/Patient?_count=50&_lastUpdated=gt2026-01-01');
  expect(req!.headers).toMatchObject({ authorization: 'Bearer t1', accept: 'application/fhir+json', 'user-agent': 'portal-bridge/test' });
});

test('pages through 3 pages with nextPage, then undefined', async () => {
  const srv = await fhirServer((req, res) => {
    const page = Number(new URL(req.url ?? '', 'http://x').searchParams.get('_page') ?? '1');
    const link = [{ relation: 'self', url: `${srv.base}/Patient?_page=${page}` }];
    if (page < 3) link.push({ relation: 'next', url: `${srv.base}?_getpages=abc&_page=${page + 1}` });
    fhirJson(res, 200, bundle({ link, entry: [{ resource: { resourceType: 'Patient', id: `p${page}` } }] }));
  });
  const { auth } = fakeAuth();
  const { fhir } = http(srv.base, { auth });
  const ids: unknown[] = [];
  let page: FhirBundle | undefined = await fhir.search('Patient', { _count: 1 });
  while (page !== undefined) {
    ids.push(...(page.entry ?? []).map((e) => (e.resource as { id: string }).id));
    page = await fhir.nextPage(page);
  }
  expect(ids).toEqual(['p1', 'p2', 'p3']);
  expect(srv.seen.map((s) => s.url)).toEqual(['/fhir/Patient?_count=1', '/fhir?_getpages=abc&_page=2', '/fhir?_getpages=abc&_page=3']);
  expect(srv.seen.every((s) => s.headers.authorization === 'Bearer t1')).toBe(true);
  expect(await fhir.nextPage(bundle())).toBeUndefined();
});

test('with auth, a next link on another origin is refused, not followed with the token', async () => {
  const srv = await fhirServer((_req, res) => fhirJson(res, 200, bundle()));
  const { fhir } = http(srv.base, { auth: fakeAuth().auth });
  const elsewhere = bundle({ link: [{ relation: 'next', url: 'http://127.0.0.2:1/fhir?_getpages=abc' }] });
  await expect(fhir.nextPage(elsewhere)).rejects.toMatchObject({ code: 'ERR_FHIR_REQUEST', message: expect.stringContaining('not sending the FHIR token') });
  expect(srv.seen).toHaveLength(0);
});

test('401 → the token is invalidated, one fresh token, one more try, success', async () => {
  const srv = await fhirServer((req, res) =>
    req.headers.authorization === 'Bearer t2' ? fhirJson(res, 200, { resourceType: 'Patient', id: 'p1' }) : fhirJson(res, 401, outcome('login', 'expired')));
  const { auth, invalidated, issued } = fakeAuth();
  const { fhir } = http(srv.base, { auth });
  expect(await fhir.read('Patient', 'p1')).toMatchObject({ resourceType: 'Patient', id: 'p1' });
  expect(invalidated).toEqual(['t1']);
  expect(issued()).toBe(2);
  expect(srv.seen.map((s) => s.headers.authorization)).toEqual(['Bearer t1', 'Bearer t2']);
});

test('401 twice → ERR_FHIR_AUTH, no more requests', async () => {
  const srv = await fhirServer((_req, res) => fhirJson(res, 401, outcome('login', 'no')));
  const { auth, invalidated } = fakeAuth();
  const { fhir } = http(srv.base, { auth });
  const e = await fhir.search('Patient', { _count: 1 }).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(BridgeError);
  expect(e).toMatchObject({ code: 'ERR_FHIR_AUTH', status: 401, errorClass: 'permanent' });
  expect(srv.seen).toHaveLength(2);
  expect(invalidated).toEqual(['t1']);
});

test('429 with Retry-After: 1 → the next attempt waits at least 1 s, then succeeds', async () => {
  const srv = await fhirServer((_req, res, n) =>
    n === 1 ? fhirJson(res, 429, outcome('throttled', 'slow down'), { 'retry-after': '1' }) : fhirJson(res, 200, bundle()));
  const { fhir, lines } = http(srv.base);
  await expect(fhir.search('Patient', { _count: 1 })).resolves.toMatchObject({ resourceType: 'Bundle' });
  expect(srv.seen).toHaveLength(2);
  expect(srv.seen[1]!.at - srv.seen[0]!.at).toBeGreaterThanOrEqual(1000);
  const retry = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'fhir request retry');
  expect(retry).toMatchObject({ level: 'debug', status: 429, attempt: 1, retryAfterMs: 1000, method: 'GET', path: 'Patient?_count' });
  expect(retry!.delayMs).toBeGreaterThanOrEqual(1000);
});

test('Retry-After as an HTTP date is honoured too', async () => {
  const srv = await fhirServer((_req, res, n) =>
    n === 1 ? fhirJson(res, 503, {}, { 'retry-after': new Date(Date.now() + 2000).toUTCString() }) : fhirJson(res, 200, bundle()));
  const { fhir } = http(srv.base);
  await fhir.search('Patient', {});
  // The date has a 1-second resolution: at least ~1 s of the 2 s remains.
  expect(srv.seen[1]!.at - srv.seen[0]!.at).toBeGreaterThanOrEqual(900);
});

test('a Retry-After beyond maxRetryAfterMs is not waited out in-process: the caller gets it', async () => {
  const srv = await fhirServer((_req, res) => fhirJson(res, 503, {}, { 'retry-after': '3600' }));
  const { fhir, lines } = http(srv.base, { retry: { ...fast, maxRetryAfterMs: 60_000 } });
  await expect(fhir.search('Patient', {})).rejects.toMatchObject({ code: 'ERR_FHIR_UNAVAILABLE', status: 503, retryAfterMs: 3_600_000, errorClass: 'transient' });
  expect(srv.seen).toHaveLength(1);
  expect(lines.some((l) => l.includes('retry-after beyond the cap'))).toBe(true);
});

test('503 twice then 200 succeeds', async () => {
  const srv = await fhirServer((_req, res, n) => (n <= 2 ? fhirJson(res, 503, outcome('transient', 'busy')) : fhirJson(res, 200, bundle())));
  const { fhir, lines } = http(srv.base);
  await expect(fhir.search('Appointment', { date: 'ge2026-01-01' })).resolves.toMatchObject({ resourceType: 'Bundle' });
  expect(srv.seen).toHaveLength(3);
  expect(lines.filter((l) => l.includes('fhir request retry'))).toHaveLength(2);
});

test('retries exhausted → ERR_FHIR_UNAVAILABLE after retries + 1 requests, with a warning', async () => {
  const srv = await fhirServer((_req, res) => fhirJson(res, 502, {}));
  const { fhir, lines } = http(srv.base);
  await expect(fhir.search('Patient', {})).rejects.toMatchObject({ code: 'ERR_FHIR_UNAVAILABLE', status: 502 });
  expect(srv.seen).toHaveLength(fast.retries + 1);
  const warn = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'fhir request failed after retries');
  expect(warn).toMatchObject({ level: 'warn', status: 502, attempt: 4, code: 'ERR_FHIR_UNAVAILABLE' });
});

test('400 → permanent ERR_FHIR_REQUEST at once: one request, the issue code but not its diagnostics', async () => {
  const srv = await fhirServer((_req, res) => fhirJson(res, 400, outcome('invalid', 'Unknown search parameter for patient Zoë Smith')));
  const { fhir } = http(srv.base);
  const e = (await fhir.search('Patient', { bogus: 'MRN-4711' }).catch((x: unknown) => x)) as BridgeError;
  expect(e).toMatchObject({ code: 'ERR_FHIR_REQUEST', status: 400, errorClass: 'permanent' });
  expect(e.message).toBe('GET Patient?bogus answered 400 (invalid)');
  expect(srv.seen).toHaveLength(1);
});

test('read: 404 → ERR_FHIR_REQUEST with status 404; an id that is no FHIR id is refused unsent', async () => {
  const srv = await fhirServer((_req, res) => fhirJson(res, 404, outcome('not-found', 'Patient/p9 is gone')));
  const { fhir } = http(srv.base);
  await expect(fhir.read('Patient', 'p9')).rejects.toMatchObject({ code: 'ERR_FHIR_REQUEST', status: 404, message: 'GET Patient/{id} answered 404 (not-found)' });
  await expect(fhir.read('Patient', '../Patient?name=x')).rejects.toMatchObject({ code: 'ERR_FHIR_REQUEST' });
  expect(srv.seen).toHaveLength(1);
});

test('malformed JSON, a body without resourceType, or not a Bundle → ERR_FHIR_MALFORMED, not retried', async () => {
  let body = '{"resourceType": "Bundle", ';
  const srv = await fhirServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/fhir+json' });
    res.end(body);
  });
  const { fhir } = http(srv.base);
  await expect(fhir.search('Patient', { identifier: 'MRN-4711' })).rejects.toMatchObject({
    code: 'ERR_FHIR_MALFORMED', errorClass: 'permanent', message: 'GET Patient?identifier answered 200 with a malformed body (not JSON)',
  });
  expect(srv.seen).toHaveLength(1);
  body = '[]';
  await expect(fhir.search('Patient', {})).rejects.toMatchObject({ code: 'ERR_FHIR_MALFORMED', message: expect.stringContaining('no resourceType') });
  body = JSON.stringify({ resourceType: 'Patient', id: 'p1' });
  await expect(fhir.search('Patient', {})).rejects.toMatchObject({ code: 'ERR_FHIR_MALFORMED', message: expect.stringContaining('not a Bundle') });
  await expect(fhir.read('Appointment', 'a1')).rejects.toMatchObject({ code: 'ERR_FHIR_MALFORMED', message: expect.stringContaining('not a Appointment') });
});

test('a server that does not answer in time, or refuses connections → ERR_FHIR_UNAVAILABLE after the retries', async () => {
  const silent = await fhirServer(() => undefined);
  const { fhir } = http(silent.base, { timeoutMs: 100, retry: { retries: 1, minTimeoutMs: 5 } });
  await expect(fhir.search('Patient', {})).rejects.toMatchObject({ code: 'ERR_FHIR_UNAVAILABLE', message: expect.stringContaining('no answer within 100 ms') });
  expect(silent.seen).toHaveLength(2);

  const closed = await fhirServer(() => undefined);
  await new Promise((resolve) => { closed.server.close(resolve); });
  const refused = http(closed.base, { retry: { retries: 1, minTimeoutMs: 5 } }).fhir;
  await expect(refused.read('Patient', 'p1')).rejects.toMatchObject({ code: 'ERR_FHIR_UNAVAILABLE', message: expect.stringContaining('ECONNREFUSED') });
});

test('logs name paths and parameter names, never query values or tokens', async () => {
  const srv = await fhirServer((_req, res, n) => (n === 1 ? fhirJson(res, 500, outcome('exception', 'boom for Zoë')) : fhirJson(res, 200, bundle())));
  const { fhir, lines } = http(srv.base, { auth: fakeAuth().auth });
  await fhir.search('Patient', { identifier: 'urn:mrn|MRN-4711', birthdate: '1980-01-01' });
  const text = lines.join('\n');
  expect(text).toContain('Patient?birthdate&identifier');
  for (const secret of ['MRN-4711', '1980-01-01', 'Bearer', 't1', 'Zoë']) expect(text).not.toContain(secret);
});

describe('request()', () => {
  test('$export kick-off: 202 with Content-Location, caller headers sent, no throw', async () => {
    const srv = await fhirServer((req, res) => {
      if (req.url?.startsWith('/fhir/Patient/$export')) {
        res.writeHead(202, { 'content-location': `${srv.base}/bulkstatus/job1` });
        res.end();
      } else if (req.url === '/fhir/bulkstatus/job1') fhirJson(res, 200, { transactionTime: '2026-01-01T00:00:00Z', output: [] });
      else fhirJson(res, 404, outcome('not-found', ''));
    });
    const { fhir } = http(srv.base, { auth: fakeAuth().auth });
    const kick = await fhir.request('Patient/$export?_type=Patient,RelatedPerson', { headers: { Prefer: 'respond-async', Accept: 'application/fhir+json' } });
    expect(kick.status).toBe(202);
    expect(kick.body).toBeUndefined();
    expect(kick.headers.get('content-location')).toBe(`${srv.base}/bulkstatus/job1`);
    expect(srv.seen[0]!.headers).toMatchObject({ prefer: 'respond-async', accept: 'application/fhir+json', authorization: 'Bearer t1' });

    const status = await fhir.request(kick.headers.get('content-location')!);
    expect(status).toMatchObject({ status: 200, body: { output: [] } });
    await expect(fhir.request('bulkstatus/nope', { method: 'DELETE' })).rejects.toMatchObject({ code: 'ERR_FHIR_REQUEST', status: 404 });
    expect(srv.seen[2]!.method).toBe('DELETE');
  });

  test('retries 503 and refreshes on 401 like the rest; refuses another origin with auth', async () => {
    const srv = await fhirServer((req, res, n) => {
      if (n === 1) return fhirJson(res, 503, {});
      if (req.headers.authorization !== 'Bearer t2') return fhirJson(res, 401, {});
      res.writeHead(202, { 'x-progress': '50%' });
      res.end();
    });
    const { auth, invalidated } = fakeAuth();
    const { fhir } = http(srv.base, { auth });
    await expect(fhir.request('bulkstatus/job1')).resolves.toMatchObject({ status: 202 });
    expect(srv.seen).toHaveLength(3);
    expect(invalidated).toEqual(['t1']);
    await expect(fhir.request('http://127.0.0.2:9/fhir/bulkstatus/job1')).rejects.toMatchObject({ code: 'ERR_FHIR_REQUEST' });
    expect(srv.seen).toHaveLength(3);
  });
});

describe('ndjsonLines()', () => {
  test('50,000 lines streamed in odd chunks, CRLF, blank lines, multibyte characters, no final newline', async () => {
    const expected = Array.from({ length: 50_000 }, (_, i) => JSON.stringify({ resourceType: 'Patient', id: `p${i}`, name: [{ text: `Zoë Ñandú ${i} 😀` }] }));
    const text = expected.map((l, i) => (i % 1000 === 0 ? `${l}\r\n\r\n` : `${l}\r\n`)).join('').replace(/\r\n$/, '');
    const bytes = Buffer.from(text, 'utf8');
    const srv = await fhirServer(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/fhir+ndjson' }); // no length: chunked
      let seed = 7;
      for (let at = 0; at < bytes.length; ) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        const size = 1 + (seed % 8191); // splits CRLF pairs and UTF-8 sequences at random places
        if (!res.write(bytes.subarray(at, at + size))) await new Promise((r) => res.once('drain', r));
        at += size;
      }
      res.end();
    });
    const { auth } = fakeAuth();
    const { fhir } = http(srv.base, { auth });
    const lines: string[] = [];
    for await (const line of fhir.ndjsonLines(`${srv.base}/files/Patient.ndjson`, true)) lines.push(line);
    expect(lines).toHaveLength(50_000);
    expect(lines).toEqual(expected);
    expect(srv.seen[0]!.headers).toMatchObject({ authorization: 'Bearer t1', accept: 'application/fhir+ndjson' });
  });

  test('no token when requiresAccessToken is false (a file on another host); 404 → ERR_FHIR_REQUEST', async () => {
    const srv = await fhirServer((req, res) => {
      if (req.url === '/files/missing.ndjson') return fhirJson(res, 404, {});
      res.end('{"a":1}\n{"b":2}\n');
    });
    const { fhir } = http(`${srv.origin}/other-base`, { auth: fakeAuth().auth });
    const lines: string[] = [];
    for await (const line of fhir.ndjsonLines(`${srv.origin}/files/Patient.ndjson?X-Amz-Signature=abc`, false)) lines.push(line);
    expect(lines).toEqual(['{"a":1}', '{"b":2}']);
    expect(srv.seen[0]!.headers.authorization).toBeUndefined();
    const read = async () => {
      for await (const _ of fhir.ndjsonLines(`${srv.origin}/files/missing.ndjson`, false)) void _;
    };
    await expect(read()).rejects.toMatchObject({ code: 'ERR_FHIR_REQUEST', status: 404 });
  });

  test('a file that needs the token but lives on another origin is refused, the token never sent there', async () => {
    const srv = await fhirServer((_req, res) => {
      res.end('{"a":1}\n');
    });
    const { fhir } = http('http://127.0.0.1:9/fhir', { auth: fakeAuth().auth });
    const read = async () => {
      for await (const _ of fhir.ndjsonLines(`${srv.origin}/files/Patient.ndjson`, true)) void _;
    };
    await expect(read()).rejects.toMatchObject({ code: 'ERR_FHIR_REQUEST' });
    expect(srv.seen).toEqual([]);
  });

  test('leaving early closes the connection; a stalled stream → ERR_FHIR_UNAVAILABLE naming the line count', async () => {
    let closed = false;
    const srv = await fhirServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/fhir+ndjson' });
      res.write('{"n":1}\n{"n":2}\n');
      req.socket.on('close', () => (closed = true)); // then nothing more: a stall
    });
    const { fhir } = http(srv.base, { timeoutMs: 150 });
    for await (const line of fhir.ndjsonLines('files/a.ndjson', false)) {
      expect(line).toBe('{"n":1}');
      break;
    }
    await waitFor(() => closed);

    const lines: string[] = [];
    const read = async () => {
      for await (const line of fhir.ndjsonLines('files/b.ndjson', false)) lines.push(line);
    };
    await expect(read()).rejects.toMatchObject({ code: 'ERR_FHIR_UNAVAILABLE', message: 'GET files/b.ndjson: the stream broke after 2 lines' });
    expect(lines).toHaveLength(2);
  });
});

test('bytes that are not UTF-8 → ERR_FHIR_MALFORMED naming the line count', async () => {
  const srv = await fhirServer((_req, res) => void res.end(Buffer.concat([Buffer.from('{"a":1}\n'), Buffer.from([0xff, 0x0a])])));
  const { fhir } = http(srv.base);
  const read = async () => {
    for await (const _ of fhir.ndjsonLines('files/a.ndjson', false)) void _;
  };
  await expect(read()).rejects.toMatchObject({ code: 'ERR_FHIR_MALFORMED', message: expect.stringMatching(/not UTF-8 after \d+ lines/) });
});

test('end to end: smart-auth against a token endpoint, the FHIR call with its token', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fhir-http-'));
  try {
    const pair = await generateKeyPair('ES384', { extractable: true });
    const keyFile = path.join(dir, 'key.pem');
    writeFileSync(keyFile, await exportPKCS8(pair.privateKey), { mode: 0o600 });
    let tokens = 0;
    const srv = await fhirServer((req, res) => {
      if (req.url === '/auth/token') return fhirJson(res, 200, { access_token: `real-${++tokens}`, token_type: 'bearer', expires_in: 300 });
      if (req.headers.authorization !== 'Bearer real-2') return fhirJson(res, 401, {});
      fhirJson(res, 200, bundle());
    });
    const { log, lines } = capture();
    const auth = await createSmartAuth({ tokenUrl: `${srv.origin}/auth/token`, clientId: 'c', scope: 'system/Patient.rs', privateKeyFile: keyFile, alg: 'ES384', log });
    const fhir = createFhirHttp({ baseUrl: srv.base, auth, retry: fast, log });
    await fhir.search('Patient', {});
    await fhir.search('Patient', {});
    expect(srv.seen.map((s) => s.url)).toEqual(['/auth/token', '/fhir/Patient', '/auth/token', '/fhir/Patient', '/fhir/Patient']);
    expect(lines.join('\n')).not.toContain('real-');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setImmediate(r));
  }
}
