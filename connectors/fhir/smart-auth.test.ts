import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { createLocalJWKSet, decodeProtectedHeader, exportJWK, exportPKCS8, generateKeyPair, jwtVerify, type JWK } from 'jose';
import { BridgeError } from '../../src/errors';
import { createLogger } from '../../src/log';
import { ASSERTION_LIFETIME_S, createSmartAuth, type SmartAuthOptions } from './smart-auth';

function capture() {
  const lines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (c: Buffer) => lines.push(...c.toString('utf8').split('\n').filter((l) => l !== '')));
  return { log: createLogger({ level: 'debug', stream }), lines };
}

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void | Promise<void>;

/** A token endpoint on 127.0.0.1:0; `handler` answers, `forms` keeps every request's form. */
async function tokenServer(handler: Handler): Promise<{ url: string; forms: URLSearchParams[]; server: Server }> {
  const forms: URLSearchParams[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      forms.push(new URLSearchParams(body));
      void Promise.resolve(handler(req, body, res)).catch((e: unknown) => {
        res.statusCode = 599;
        res.end(String(e));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth/token`, forms, server };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => { s.closeAllConnections(); s.close(resolve); })));
});

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const CLIENT_ID = 'portal-bridge-test';
const SCOPE = 'system/Patient.rs system/RelatedPerson.rs system/Appointment.rs';
let dir: string;
const keys: Record<'RS384' | 'ES384', { publicJwk: JWK; pem: string; jwkFile: string; pemFile: string }> = {} as never;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'smart-auth-'));
  for (const alg of ['RS384', 'ES384'] as const) {
    const pair = await generateKeyPair(alg, { extractable: true });
    const pem = await exportPKCS8(pair.privateKey);
    const privateJwk = { ...(await exportJWK(pair.privateKey)), kid: `${alg}-jwk-kid`, alg };
    const publicJwk = { ...(await exportJWK(pair.publicKey)), kid: `${alg}-jwk-kid`, alg };
    const pemFile = path.join(dir, `${alg}.pem`);
    const jwkFile = path.join(dir, `${alg}.jwk.json`);
    writeFileSync(pemFile, pem, { mode: 0o600 });
    writeFileSync(jwkFile, JSON.stringify(privateJwk), { mode: 0o600 });
    keys[alg] = { publicJwk, pem, jwkFile, pemFile };
  }
}, 30_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function options(tokenUrl: string, extra: Partial<SmartAuthOptions> & { log: SmartAuthOptions['log'] }): SmartAuthOptions {
  return { tokenUrl, clientId: CLIENT_ID, scope: SCOPE, privateKeyFile: keys.RS384.pemFile, alg: 'RS384', ...extra };
}

/** A token server that verifies each assertion with jose against `publicJwk` and hands out tok-1, tok-2, … */
async function verifyingServer(alg: 'RS384' | 'ES384', currentDate?: () => Date) {
  const seen = { jtis: new Set<string>(), headers: [] as Record<string, unknown>[], tokens: 0, problems: [] as string[] };
  const srv = await tokenServer(async (req, body, res) => {
    const form = new URLSearchParams(body);
    if (req.method !== 'POST' || req.headers['content-type'] !== 'application/x-www-form-urlencoded') seen.problems.push('not a form POST');
    if (form.get('grant_type') !== 'client_credentials') seen.problems.push('grant_type');
    if (form.get('scope') !== SCOPE) seen.problems.push('scope');
    if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') seen.problems.push('assertion type');
    const assertion = form.get('client_assertion') ?? '';
    // The registered public key, under whichever kid the assertion names (the kid itself is checked by the tests).
    const jwks = createLocalJWKSet({ keys: [{ ...keys[alg].publicJwk, kid: decodeProtectedHeader(assertion).kid ?? 'none' }] });
    const { payload, protectedHeader } = await jwtVerify(assertion, jwks, {
      issuer: CLIENT_ID, subject: CLIENT_ID, audience: srv.url, algorithms: [alg], typ: 'JWT', currentDate: currentDate?.(),
    });
    if (typeof payload.jti !== 'string' || seen.jtis.has(payload.jti)) seen.problems.push('jti missing or reused');
    seen.jtis.add(String(payload.jti));
    if (payload.exp === undefined || payload.iat === undefined || payload.exp - payload.iat > 300) seen.problems.push('exp more than 5 minutes out');
    seen.headers.push(protectedHeader as Record<string, unknown>);
    seen.tokens++;
    json(res, 200, { access_token: `tok-${seen.tokens}`, token_type: 'bearer', expires_in: 300, scope: SCOPE });
  });
  return { ...srv, seen };
}

describe.each([
  ['RS384', 'pem'],
  ['RS384', 'jwk'],
  ['ES384', 'pem'],
  ['ES384', 'jwk'],
] as const)('%s key as %s', (alg, form) => {
  test('signs a client assertion the server verifies with the public JWK', async () => {
    const { log, lines } = capture();
    const srv = await verifyingServer(alg);
    const file = form === 'pem' ? keys[alg].pemFile : keys[alg].jwkFile;
    const auth = await createSmartAuth(options(srv.url, { privateKeyFile: file, alg, log, ...(form === 'pem' ? { kid: 'cfg-kid', jku: 'https://bridge.example/jwks.json' } : {}) }));
    expect(await auth.token()).toBe('tok-1');
    expect(srv.seen.problems).toEqual([]);
    const header = srv.seen.headers[0]!;
    expect(header).toMatchObject({ alg, typ: 'JWT' });
    if (form === 'pem') expect(header).toMatchObject({ kid: 'cfg-kid', jku: 'https://bridge.example/jwks.json' });
    else {
      expect(header.kid).toBe(`${alg}-jwk-kid`); // the JWK's own kid
      expect(header.jku).toBeUndefined();
    }
    const assertion = srv.forms[0]!.get('client_assertion')!;
    expect(decodeProtectedHeader(assertion).alg).toBe(alg);
    for (const line of lines) {
      expect(line).not.toContain('tok-1');
      expect(line).not.toContain(assertion.slice(0, 40));
    }
  });
});

test('claims use the injected clock: iat = now, exp = now + 4 minutes', async () => {
  const at = new Date('2031-05-06T07:08:09.000Z');
  const srv = await verifyingServer('ES384', () => at);
  const auth = await createSmartAuth(options(srv.url, { privateKeyFile: keys.ES384.jwkFile, alg: 'ES384', now: () => at, log: capture().log }));
  await auth.token();
  expect(srv.seen.problems).toEqual([]);
  const assertion = srv.forms[0]!.get('client_assertion')!;
  const { payload } = await jwtVerify(assertion, createLocalJWKSet({ keys: [keys.ES384.publicJwk] }), { currentDate: at });
  expect(payload.iat).toBe(at.getTime() / 1000);
  expect(payload.exp).toBe(at.getTime() / 1000 + ASSERTION_LIFETIME_S);
  expect(ASSERTION_LIFETIME_S).toBeLessThanOrEqual(300);
});

test('the token is cached: 10 calls, 1 token request', async () => {
  const srv = await verifyingServer('RS384');
  const auth = await createSmartAuth(options(srv.url, { log: capture().log }));
  for (let i = 0; i < 10; i++) expect(await auth.token()).toBe('tok-1');
  expect(srv.forms).toHaveLength(1);
});

test('refreshed once the clock passes expiry minus the skew', async () => {
  let nowMs = Date.parse('2030-01-01T00:00:00Z');
  const now = () => new Date(nowMs);
  const srv = await verifyingServer('RS384', now);
  const auth = await createSmartAuth(options(srv.url, { refreshSkewS: 60, now, log: capture().log }));
  expect(await auth.token()).toBe('tok-1');
  nowMs += 239_000; // expires_in 300 − skew 60 = 240 s
  expect(await auth.token()).toBe('tok-1');
  nowMs += 1_000;
  expect(await auth.token()).toBe('tok-2');
  expect(srv.forms).toHaveLength(2);
  expect(srv.seen.problems).toEqual([]);
});

test('a short-lived token is kept for half its life (skew capped at expires_in / 2)', async () => {
  let nowMs = Date.parse('2030-01-01T00:00:00Z');
  let n = 0;
  const srv = await tokenServer((_req, _body, res) => json(res, 200, { access_token: `short-${++n}`, token_type: 'Bearer', expires_in: '60' }));
  const auth = await createSmartAuth(options(srv.url, { refreshSkewS: 60, now: () => new Date(nowMs), log: capture().log }));
  expect(await auth.token()).toBe('short-1');
  nowMs += 29_000;
  expect(await auth.token()).toBe('short-1');
  nowMs += 1_000;
  expect(await auth.token()).toBe('short-2');
});

test('concurrent token() calls share one request', async () => {
  let n = 0;
  const srv = await tokenServer(async (_req, _body, res) => {
    await new Promise((r) => setTimeout(r, 50));
    json(res, 200, { access_token: `tok-${++n}`, token_type: 'bearer', expires_in: 300 });
  });
  const auth = await createSmartAuth(options(srv.url, { log: capture().log }));
  const tokens = await Promise.all(Array.from({ length: 8 }, () => auth.token()));
  expect(new Set(tokens)).toEqual(new Set(['tok-1']));
  expect(srv.forms).toHaveLength(1);
});

test('invalidate forgets that token only: a stale invalidate after a refresh fetches nothing', async () => {
  const srv = await verifyingServer('RS384');
  const { log, lines } = capture();
  const auth = await createSmartAuth(options(srv.url, { log }));
  expect(await auth.token()).toBe('tok-1');
  auth.invalidate('tok-1');
  expect(await auth.token()).toBe('tok-2');
  auth.invalidate('tok-1'); // a second caller's 401 with the old token
  expect(await auth.token()).toBe('tok-2');
  expect(srv.forms).toHaveLength(2);
  expect(lines.filter((l) => l.includes('fhir token refused'))).toHaveLength(1);
});

test('token endpoint 401 invalid_client → permanent ERR_FHIR_AUTH naming the URL and the OAuth code', async () => {
  const srv = await tokenServer((_req, _body, res) => json(res, 401, { error: 'invalid_client', error_description: 'Patient Zoë Smith 1980-01-01' }));
  const auth = await createSmartAuth(options(srv.url, { log: capture().log }));
  const e = await auth.token().catch((x: unknown) => x);
  expect(e).toBeInstanceOf(BridgeError);
  expect(e).toMatchObject({ code: 'ERR_FHIR_AUTH', status: 401, errorClass: 'permanent' });
  const message = (e as BridgeError).message;
  expect(message).toContain(srv.url);
  expect(message).toContain('invalid_client');
  expect(message).not.toContain('Zoë');
  expect(message).not.toContain(srv.forms[0]!.get('client_assertion')!.slice(0, 20));
  // A failed fetch is not cached: the next call asks again.
  await expect(auth.token()).rejects.toMatchObject({ code: 'ERR_FHIR_AUTH' });
  expect(srv.forms).toHaveLength(2);
});

test('token endpoint 400 invalid_scope → ERR_FHIR_AUTH', async () => {
  const srv = await tokenServer((_req, _body, res) => json(res, 400, { error: 'invalid_scope' }));
  const auth = await createSmartAuth(options(srv.url, { log: capture().log }));
  await expect(auth.token()).rejects.toMatchObject({ code: 'ERR_FHIR_AUTH', status: 400, message: expect.stringContaining('invalid_scope') });
});

test('token endpoint 503 with Retry-After → transient ERR_FHIR_UNAVAILABLE', async () => {
  const srv = await tokenServer((_req, _body, res) => json(res, 503, {}, { 'retry-after': '7' }));
  const auth = await createSmartAuth(options(srv.url, { log: capture().log }));
  await expect(auth.token()).rejects.toMatchObject({ code: 'ERR_FHIR_UNAVAILABLE', status: 503, retryAfterMs: 7000, errorClass: 'transient' });
});

test('token endpoint refusing connections or timing out → transient ERR_FHIR_UNAVAILABLE', async () => {
  const closed = await tokenServer(() => undefined);
  await new Promise((resolve) => { closed.server.close(resolve); });
  const refused = await createSmartAuth(options(closed.url, { log: capture().log }));
  await expect(refused.token()).rejects.toMatchObject({ code: 'ERR_FHIR_UNAVAILABLE', message: expect.stringContaining('ECONNREFUSED') });

  const silent = await tokenServer(() => undefined); // never answers
  const slow = await createSmartAuth(options(silent.url, { timeoutMs: 100, log: capture().log }));
  await expect(slow.token()).rejects.toMatchObject({ code: 'ERR_FHIR_UNAVAILABLE', message: expect.stringContaining('no answer within 100 ms') });
});

test('a 200 without a usable token → ERR_FHIR_MALFORMED', async () => {
  let answer: string = 'not json';
  const srv = await tokenServer((_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(answer);
  });
  const auth = await createSmartAuth(options(srv.url, { log: capture().log }));
  await expect(auth.token()).rejects.toMatchObject({ code: 'ERR_FHIR_MALFORMED', message: expect.stringContaining('not JSON') });
  answer = JSON.stringify({ token_type: 'bearer' });
  await expect(auth.token()).rejects.toMatchObject({ code: 'ERR_FHIR_MALFORMED', message: expect.stringContaining('no access_token') });
  answer = JSON.stringify({ access_token: 'x', token_type: 'DPoP' });
  await expect(auth.token()).rejects.toMatchObject({ code: 'ERR_FHIR_MALFORMED', message: expect.stringContaining('bearer') });
});

describe('the key is checked at start: ERR_CONFIG_INVALID naming the file', () => {
  const url = 'http://127.0.0.1:9/token';
  const startWith = (extra: Partial<SmartAuthOptions>) => createSmartAuth(options(url, { log: capture().log, ...extra }));

  test('missing file', async () => {
    const missing = path.join(dir, 'nope.pem');
    await expect(startWith({ privateKeyFile: missing })).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID', message: expect.stringContaining(missing) });
    await expect(startWith({ privateKeyFile: missing })).rejects.toThrow(/ENOENT/);
  });

  test('a key of the wrong type for the algorithm', async () => {
    await expect(startWith({ privateKeyFile: keys.ES384.pemFile, alg: 'RS384' })).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID', message: expect.stringContaining(`${keys.ES384.pemFile}: RS384 needs an RSA key`),
    });
    await expect(startWith({ privateKeyFile: keys.RS384.jwkFile, alg: 'ES384' })).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID', message: expect.stringContaining('the JWK is for RS384, not ES384'),
    });
    const p256 = await generateKeyPair('ES256', { extractable: true });
    const file = path.join(dir, 'p256.pem');
    writeFileSync(file, await exportPKCS8(p256.privateKey), { mode: 0o600 });
    await expect(startWith({ privateKeyFile: file, alg: 'ES384' })).rejects.toMatchObject({ message: expect.stringContaining('P-384') });
  });

  test('a public key, or a file that is no key at all', async () => {
    const pub = path.join(dir, 'public.jwk.json');
    writeFileSync(pub, JSON.stringify(keys.ES384.publicJwk), { mode: 0o600 });
    await expect(startWith({ privateKeyFile: pub, alg: 'ES384' })).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID', message: expect.stringContaining('public key') });
    const junk = path.join(dir, 'junk.pem');
    writeFileSync(junk, 'hello', { mode: 0o600 });
    await expect(startWith({ privateKeyFile: junk })).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID', message: expect.stringContaining(junk) });
  });

  test('a JWKS: the key named by kid', async () => {
    const privateEs = JSON.parse(readFileSync(keys.ES384.jwkFile, 'utf8')) as JWK;
    const file = path.join(dir, 'set.json');
    writeFileSync(file, JSON.stringify({ keys: [{ ...privateEs, kid: 'a' }, { ...privateEs, kid: 'b' }] }), { mode: 0o600 });
    await expect(startWith({ privateKeyFile: file, alg: 'ES384' })).rejects.toMatchObject({ message: expect.stringContaining('set kid') });
    await expect(startWith({ privateKeyFile: file, alg: 'ES384', kid: 'b' })).resolves.toBeDefined();
  });

  test('a key file readable by others is used, with a warning', async () => {
    const file = path.join(dir, 'open.pem');
    writeFileSync(file, keys.RS384.pem, { mode: 0o644 });
    const { log, lines } = capture();
    await createSmartAuth(options(url, { privateKeyFile: file, log }));
    expect(lines.some((l) => l.includes('readable by other users'))).toBe(true);
    expect(lines.join('\n')).not.toContain('PRIVATE KEY');
  });
});
