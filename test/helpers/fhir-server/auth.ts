import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createLocalJWKSet, decodeProtectedHeader, errors, jwtVerify, type JWK } from 'jose';

/**
 * SMART Backend Services token endpoint (client_credentials + private_key_jwt, RFC 7523) and bearer-token checks.
 * Tokens are opaque random strings valid `tokenLifetimeS` on the wall clock (the `now` option only dates resources).
 */

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** The longest exp − now a client assertion may carry (SMART: no more than five minutes). */
const MAX_ASSERTION_LIFETIME_S = 300;
const CLOCK_TOLERANCE_S = 5;

export interface AuthConfig {
  readonly clientId: string;
  readonly jwks: { keys: JWK[] };
  readonly tokenLifetimeS?: number;
  readonly scope?: string;
}

type TokenAnswer = { status: number; body: Record<string, unknown> };

const refuse = (status: number, error: string, description: string): TokenAnswer => ({ status, body: { error, error_description: description } });

export class TokenService {
  /** access token → expiry (epoch ms). */
  private readonly tokens = new Map<string, number>();
  private readonly seenJti = new Set<string>();
  private readonly keys: ReturnType<typeof createLocalJWKSet>;
  issued = 0;

  constructor(
    private readonly config: AuthConfig,
    private readonly tokenUrl: () => string,
  ) {
    this.keys = createLocalJWKSet(config.jwks);
  }

  /** Answers one token request (form fields already parsed). */
  async answer(form: Readonly<Record<string, string>>): Promise<TokenAnswer> {
    if (form.grant_type !== 'client_credentials') return refuse(400, 'unsupported_grant_type', 'grant_type must be client_credentials');
    if (form.client_assertion_type !== CLIENT_ASSERTION_TYPE) return refuse(400, 'invalid_request', `client_assertion_type must be ${CLIENT_ASSERTION_TYPE}`);
    const assertion = form.client_assertion;
    if (assertion === undefined || assertion === '') return refuse(400, 'invalid_request', 'client_assertion is missing');
    const scope = this.grantedScope(form.scope);
    if (scope === undefined) return refuse(400, 'invalid_scope', 'a requested scope is not allowed for this client');

    let header;
    try {
      header = decodeProtectedHeader(assertion);
    } catch {
      return refuse(401, 'invalid_client', 'client_assertion is not a JWS');
    }
    if (typeof header.kid !== 'string') return refuse(401, 'invalid_client', 'the assertion header has no kid');
    let payload;
    try {
      ({ payload } = await jwtVerify(assertion, this.keys, {
        algorithms: ['RS384', 'ES384'],
        issuer: this.config.clientId,
        subject: this.config.clientId,
        audience: this.tokenUrl(),
        requiredClaims: ['exp', 'jti'],
        clockTolerance: CLOCK_TOLERANCE_S,
      }));
    } catch (e) {
      if (e instanceof errors.JOSEError) return refuse(401, 'invalid_client', `${e.code}: ${e.message}`);
      throw e;
    }
    if (payload.exp! - Date.now() / 1000 > MAX_ASSERTION_LIFETIME_S + CLOCK_TOLERANCE_S) {
      return refuse(401, 'invalid_client', `exp is more than ${MAX_ASSERTION_LIFETIME_S} s ahead`);
    }
    const jti = `${payload.iss ?? ''}\n${payload.jti ?? ''}`;
    if (this.seenJti.has(jti)) return refuse(401, 'invalid_client', 'jti was already used');
    this.seenJti.add(jti);

    const lifetime = this.config.tokenLifetimeS ?? 300;
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(token, Date.now() + lifetime * 1000);
    this.issued++;
    return { status: 200, body: { access_token: token, token_type: 'bearer', expires_in: lifetime, scope } };
  }

  /** Whether an Authorization header carries a token this server issued that has not expired. */
  check(authorization: string | undefined): 'ok' | 'missing' | 'invalid' {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (m === null) return 'missing';
    const expiry = this.tokens.get(m[1]!);
    return expiry !== undefined && expiry > Date.now() ? 'ok' : 'invalid';
  }

  /** Every token issued so far answers 401 from now on. */
  expireAll(): void {
    for (const token of this.tokens.keys()) this.tokens.set(token, 0);
  }

  private grantedScope(requested: string | undefined): string | undefined {
    const allowed = this.config.scope?.split(/\s+/).filter(Boolean);
    if (requested === undefined || requested.trim() === '') return this.config.scope ?? 'system/*.read';
    const asked = requested.split(/\s+/).filter(Boolean);
    if (allowed !== undefined && !asked.every((s) => allowed.includes(s))) return undefined;
    return asked.join(' ');
  }
}

/** POST /auth/token (application/x-www-form-urlencoded). */
export function tokenRoutes(app: FastifyInstance, service: TokenService): void {
  app.post('/auth/token', async (req, reply) => {
    const form = (typeof req.body === 'object' && req.body !== null ? req.body : {}) as Record<string, string>;
    const isForm = (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
    const { status, body } = isForm ? await service.answer(form) : refuse(400, 'invalid_request', 'the body must be application/x-www-form-urlencoded');
    return reply.code(status).header('cache-control', 'no-store').header('pragma', 'no-cache').type('application/json').send(JSON.stringify(body));
  });
}

/** Parses an x-www-form-urlencoded body into the first value of each field. */
export function parseForm(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(text)) if (!(k in out)) out[k] = v;
  return out;
}
