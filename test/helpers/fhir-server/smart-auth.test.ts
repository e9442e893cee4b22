import { randomUUID } from 'node:crypto';
import Client from 'fhir-kit-client';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type KeyLike } from 'jose';
import { httpGet, requestToken } from './http';
import { startFhirTestServer, type FhirTestServer } from './index';

/** SMART Backend Services: the token endpoint and bearer checks. */

interface ClientKey {
  readonly alg: 'RS384' | 'ES384';
  readonly kid: string;
  readonly privateKey: KeyLike;
  readonly jwk: JWK;
}

async function clientKey(alg: 'RS384' | 'ES384', kid: string): Promise<ClientKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

const CLIENT_ID = 'portal-bridge-test';

function assertion(key: ClientKey, aud: string, claims: { iss?: string; jti?: string; exp?: string; kid?: string } = {}): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: key.alg, kid: claims.kid ?? key.kid, typ: 'JWT' })
    .setIssuer(claims.iss ?? CLIENT_ID)
    .setSubject(CLIENT_ID)
    .setAudience(aud)
    .setJti(claims.jti ?? randomUUID())
    .setIssuedAt()
    .setExpirationTime(claims.exp ?? '4m')
    .sign(key.privateKey);
}

describe('FHIR test server: SMART Backend Services auth', () => {
  let rsa: ClientKey;
  let ec: ClientKey;
  let stranger: ClientKey;
  let server: FhirTestServer;
  beforeAll(async () => {
    [rsa, ec, stranger] = await Promise.all([clientKey('RS384', 'rsa-1'), clientKey('ES384', 'ec-1'), clientKey('RS384', 'rsa-1')]);
  });
  beforeEach(async () => {
    server = await startFhirTestServer({ auth: { clientId: CLIENT_ID, jwks: { keys: [rsa.jwk, ec.jwk] } } });
  });
  afterEach(() => server.close());

  const token = async (key: ClientKey = rsa): Promise<string> => {
    const r = await requestToken(server.tokenUrl, await assertion(key, server.tokenUrl));
    expect(r.status).toBe(200);
    return r.json<{ access_token: string }>().access_token;
  };

  test('RS384 and ES384 assertions get a bearer token', async () => {
    for (const key of [rsa, ec]) {
      const r = await requestToken(server.tokenUrl, await assertion(key, server.tokenUrl));
      expect([key.alg, r.status]).toEqual([key.alg, 200]);
      expect(r.headers.get('cache-control')).toBe('no-store');
      expect(r.json()).toEqual({ access_token: expect.any(String), token_type: 'bearer', expires_in: 300, scope: 'system/*.read' });
    }
    expect(server.tokensIssued).toBe(2);
  });

  test('refused: bad signature, wrong aud, wrong iss, reused jti, exp too far, no kid, wrong grant or form', async () => {
    const refusal = async (jwt: string | Promise<string>, extra: Record<string, string> = {}, why?: RegExp) => {
      const r = await requestToken(server.tokenUrl, await jwt, extra);
      const body = r.json<{ error: string; error_description?: string }>();
      if (why !== undefined) expect(body.error_description).toMatch(why);
      return [r.status, body.error];
    };
    const invalidClient = [401, 'invalid_client'];
    expect(await refusal(assertion(stranger, server.tokenUrl), {}, /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/)).toEqual(invalidClient);
    expect(await refusal(assertion(rsa, `${server.baseUrl}/token`), {}, /"aud"/)).toEqual(invalidClient);
    expect(await refusal(assertion(rsa, server.tokenUrl, { iss: 'someone-else' }))).toEqual(invalidClient);
    expect(await refusal(assertion(rsa, server.tokenUrl, { exp: '10m' }))).toEqual(invalidClient);
    expect(await refusal(assertion(rsa, server.tokenUrl, { kid: 'unknown' }))).toEqual(invalidClient);
    expect(await refusal('not.a.jwt')).toEqual(invalidClient);
    const once = await assertion(rsa, server.tokenUrl, { jti: 'jti-1' });
    expect(await refusal(once)).toEqual([200, undefined]);
    expect(await refusal(once, {}, /jti/)).toEqual(invalidClient);
    expect(await refusal(assertion(rsa, server.tokenUrl), { grant_type: 'password' })).toEqual([400, 'unsupported_grant_type']);
    expect(await refusal(assertion(rsa, server.tokenUrl), { client_assertion_type: 'x' })).toEqual([400, 'invalid_request']);
    const json = await fetch(server.tokenUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"grant_type":"client_credentials"}' });
    expect([json.status, ((await json.json()) as { error: string }).error]).toEqual([400, 'invalid_request']);
    expect(server.tokensIssued).toBe(1);
  });

  test('FHIR requests need a valid token: 401 without one and after expireTokens(); metadata is public', async () => {
    const bare = await httpGet(`${server.baseUrl}/Patient`);
    expect([bare.status, bare.headers.get('www-authenticate')]).toEqual([401, 'Bearer realm="fhir"']);
    expect(bare.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'login' }] });
    expect((await httpGet(`${server.baseUrl}/metadata`)).status).toBe(200);
    expect((await httpGet(`${server.baseUrl}/.well-known/smart-configuration`)).json()).toMatchObject({ token_endpoint: server.tokenUrl });

    const first = await token();
    const client = new Client({ baseUrl: server.baseUrl, bearerToken: first });
    await expect(client.search({ resourceType: 'Patient' })).resolves.toMatchObject({ resourceType: 'Bundle' });
    server.expireTokens();
    await expect(client.search({ resourceType: 'Patient' })).rejects.toMatchObject({ response: { status: 401 } });
    const expired = await httpGet(`${server.baseUrl}/Patient`, { authorization: `Bearer ${first}` });
    expect(expired.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    client.bearerToken = await token(ec);
    await expect(client.search({ resourceType: 'Patient' })).resolves.toMatchObject({ resourceType: 'Bundle' });

    const fhir = server.requests().filter((r) => r.path === '/fhir/Patient');
    expect(fhir.map((r) => r.authorized)).toEqual([false, true, false, false, true]);
  });
});
