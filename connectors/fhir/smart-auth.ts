/**
 * SMART Backend Services authorization (SMART App Launch IG, "Backend Services"): OAuth client credentials with a
 * `private_key_jwt` client assertion signed by jose (RS384 or ES384). The access token is cached until
 * `refreshSkewS` before it expires; concurrent callers share one token request; a token the FHIR server refused
 * (401) is forgotten on `invalidate` so the next `token()` fetches a new one. No retries here: fhir-http.ts
 * retries the whole call, token request included. Neither the assertion nor the token is ever logged or put in
 * an error message.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { z } from 'zod';
import { BridgeError } from '../../src/errors';
import type { Logger } from '../../src/log';
import { parseRetryAfter } from '../../src/portal/rest/error-mapping';
import { describe, isRetryableStatus, malformedError, transportError, type CallSite } from './fhir-http-errors';
import { loadSigningKey, type SigningKey, type SmartAlg } from './smart-key';

export interface SmartAuthOptions {
  /** The authorization server's token endpoint (also the assertion's `aud`). */
  readonly tokenUrl: string;
  readonly clientId: string;
  /** Space-separated scopes, e.g. `system/Patient.rs system/RelatedPerson.rs system/Appointment.rs`. */
  readonly scope: string;
  /** PEM (PKCS#8) or a private JWK as JSON (may carry kid/alg); a JWKS file works when `kid` picks the key. */
  readonly privateKeyFile: string;
  readonly alg: SmartAlg;
  /** The assertion header's `kid`; defaults to the JWK's own `kid`. */
  readonly kid?: string;
  /** The assertion header's `jku` (where the server finds our public JWKS), when registered that way. */
  readonly jku?: string;
  /** Refresh this many seconds before `expires_in` runs out (default 60; at most half the token's lifetime). */
  readonly refreshSkewS?: number;
  /** Token request timeout in milliseconds (default 10,000). */
  readonly timeoutMs?: number;
  /** The clock, for the assertion's claims and the token's expiry (tests move it). */
  readonly now?: () => Date;
  readonly log: Logger;
}

export interface TokenProvider {
  /** A valid access token (cached; fetched when missing or within refreshSkewS of expiry; concurrent callers share one fetch). */
  token(): Promise<string>;
  /** The server said 401 with this token: forget it so the next token() fetches a new one. */
  invalidate(token: string): void;
}

/** Lifetime of a client assertion: under the spec's 5-minute maximum, with a minute's margin for clock drift. */
export const ASSERTION_LIFETIME_S = 240;
/** Assumed token lifetime when the answer has no `expires_in` (the spec's recommended maximum). */
const DEFAULT_EXPIRES_IN_S = 300;
const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

const TokenAnswerSchema = z.object({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.union([z.number().positive(), z.string().regex(/^\d+$/).transform(Number)]).optional(),
});

/** Loads and checks the key (ERR_CONFIG_INVALID naming the file), then returns the provider. Fetches no token yet. */
export async function createSmartAuth(options: SmartAuthOptions): Promise<TokenProvider> {
  const tokenUrl = checkOptions(options);
  const signing = await loadSigningKey(options.privateKeyFile, options.alg, options.kid, options.log);
  const kid = options.kid ?? signing.kid;
  const now = options.now ?? (() => new Date());
  const skewS = options.refreshSkewS ?? 60;
  const timeoutMs = options.timeoutMs ?? 10_000;
  // Messages name the endpoint without its query (none is expected; a query could hold anything).
  const site: CallSite = { method: 'POST', where: `token endpoint ${tokenUrl.origin}${tokenUrl.pathname}` };

  let cached: { token: string; refreshAtMs: number } | undefined;
  let inflight: Promise<string> | undefined;

  async function fetchToken(): Promise<string> {
    const startedAt = now();
    const assertion = await signAssertion(signing, { clientId: options.clientId, aud: options.tokenUrl, kid, jku: options.jku, at: startedAt });
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      scope: options.scope,
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: assertion,
    });
    let res: Response;
    let text: string;
    try {
      res = await fetch(tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await res.text();
    } catch (e) {
      throw transportError(site, e, timeoutMs);
    }
    const body = parseJson(text);
    if (res.status < 200 || res.status > 299) throw tokenError(site, res, body);
    const answer = TokenAnswerSchema.safeParse(body);
    if (!answer.success) throw malformedError(site, res.status, body === undefined ? 'not JSON' : 'no access_token');
    const { access_token: token, token_type: type, expires_in: expiresIn } = answer.data;
    if (type !== undefined && type.toLowerCase() !== 'bearer') throw malformedError(site, res.status, 'token_type is not bearer');
    const lifetimeS = expiresIn ?? DEFAULT_EXPIRES_IN_S;
    // A short-lived token is still used for half its life, not refetched on every call.
    const refreshAtMs = startedAt.getTime() + (lifetimeS - Math.min(skewS, lifetimeS / 2)) * 1000;
    cached = { token, refreshAtMs };
    options.log.debug('fhir token fetched', { expiresInS: lifetimeS, assumedExpiry: expiresIn === undefined });
    return token;
  }

  return {
    token() {
      if (cached !== undefined && now().getTime() < cached.refreshAtMs) return Promise.resolve(cached.token);
      inflight ??= fetchToken().finally(() => {
        inflight = undefined;
      });
      return inflight;
    },
    invalidate(token) {
      if (cached?.token !== token) return; // already replaced by a newer token
      cached = undefined;
      options.log.warn('fhir token refused by the server, fetching a new one');
    },
  };
}

function checkOptions(options: SmartAuthOptions): URL {
  const invalid = (why: string): BridgeError => new BridgeError('ERR_CONFIG_INVALID', `SMART backend auth: ${why}`);
  if (options.clientId.trim() === '') throw invalid('clientId is empty');
  if (options.scope.trim() === '') throw invalid('scope is empty');
  if (options.alg !== 'RS384' && options.alg !== 'ES384') throw invalid(`alg must be RS384 or ES384, not ${String(options.alg)}`);
  let url: URL;
  try {
    url = new URL(options.tokenUrl);
  } catch {
    throw invalid('tokenUrl is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid('tokenUrl must be http(s)');
  return url;
}

interface AssertionClaims {
  readonly clientId: string;
  readonly aud: string;
  readonly kid: string | undefined;
  readonly jku: string | undefined;
  readonly at: Date;
}

/** The client assertion: iss = sub = client id, aud = token URL, a fresh jti, exp within 5 minutes. */
export async function signAssertion(signing: SigningKey, c: AssertionClaims): Promise<string> {
  const iat = Math.floor(c.at.getTime() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: signing.alg, typ: 'JWT', ...(c.kid === undefined ? {} : { kid: c.kid }), ...(c.jku === undefined ? {} : { jku: c.jku }) })
    .setIssuer(c.clientId)
    .setSubject(c.clientId)
    .setAudience(c.aud)
    .setJti(randomUUID())
    .setIssuedAt(iat)
    .setExpirationTime(iat + ASSERTION_LIFETIME_S)
    .sign(signing.key);
}

/** 429/5xx → ERR_FHIR_UNAVAILABLE (retried by the caller); anything else → ERR_FHIR_AUTH with the OAuth error code. */
function tokenError(site: CallSite, res: Response, body: unknown): BridgeError {
  const oauth = (body as { error?: unknown } | undefined)?.error;
  const code = typeof oauth === 'string' && /^[\w.-]{1,64}$/.test(oauth) ? oauth : undefined;
  const message = `${describe(site)} answered ${res.status}${code === undefined ? '' : ` (${code})`}`;
  if (isRetryableStatus(res.status)) {
    const retryAfterMs = parseRetryAfter(res.headers.get('retry-after') ?? undefined, Date.now());
    return new BridgeError('ERR_FHIR_UNAVAILABLE', message, retryAfterMs === undefined ? { status: res.status } : { status: res.status, retryAfterMs });
  }
  return new BridgeError('ERR_FHIR_AUTH', message, { status: res.status });
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
