/**
 * How the FHIR HTTP layer (fhir-http.ts, smart-auth.ts) turns answers and transport failures into BridgeErrors
 * (ERR_FHIR_*). Messages are one line — method, path and query parameter *names*, status, OperationOutcome issue
 * code or OAuth error code — and never carry query values, ids in search values, bodies or tokens.
 */
import { BridgeError } from '../../src/errors';
import { parseRetryAfter } from '../../src/portal/rest/error-mapping';

/** Which call failed, safe for logs and messages: `GET Patient?_count&_lastUpdated`. */
export interface CallSite {
  readonly method: string;
  /** Path relative to the FHIR base (or origin + path for another origin) and query parameter names, no values. */
  readonly where: string;
}

/** `CallSite` for a URL: the path below `base` (or origin + path elsewhere) and the query's parameter names only. */
export function siteOf(method: string, url: URL, base: URL): CallSite {
  const names = [...new Set(url.searchParams.keys())];
  const query = names.length === 0 ? '' : `?${names.join('&')}`;
  let path: string;
  if (url.origin !== base.origin) path = `${url.origin}${url.pathname}`;
  else if (url.pathname.startsWith(base.pathname)) path = url.pathname.slice(base.pathname.length) || '(base)';
  else path = url.pathname;
  return { method, where: `${path}${query}` };
}

export function describe(site: CallSite): string {
  return `${site.method} ${site.where}`;
}

/** The first OperationOutcome issue's `code` (a FHIR code such as `not-found`, never the diagnostics text). */
export function issueCode(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const { resourceType, issue } = body as { resourceType?: unknown; issue?: unknown };
  if (resourceType !== 'OperationOutcome' || !Array.isArray(issue)) return undefined;
  const code: unknown = (issue[0] as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[a-z][a-z-]{0,39}$/.test(code) ? code : undefined;
}

/** True for statuses retried with backoff: 408, 429 and 5xx except 501 (the server will never do it). */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599 && status !== 501);
}

/**
 * The BridgeError for a non-2xx answer of the FHIR server. 401 → ERR_FHIR_AUTH (the caller refreshes the token
 * once before it gives up); 408/429/5xx → ERR_FHIR_UNAVAILABLE with the Retry-After; other 4xx and 501 →
 * ERR_FHIR_REQUEST. The status is kept on the error for callers that tell 404/410 apart.
 */
export function statusError(site: CallSite, status: number, body: unknown, retryAfter: string | null | undefined): BridgeError {
  const issue = issueCode(body);
  const message = `${describe(site)} answered ${status}${issue === undefined ? '' : ` (${issue})`}`;
  if (status === 401) return new BridgeError('ERR_FHIR_AUTH', message, { status });
  if (isRetryableStatus(status)) {
    const retryAfterMs = parseRetryAfter(retryAfter ?? undefined, Date.now());
    return new BridgeError('ERR_FHIR_UNAVAILABLE', message, retryAfterMs === undefined ? { status } : { status, retryAfterMs });
  }
  return new BridgeError('ERR_FHIR_REQUEST', message, { status });
}

/** A 2xx answer whose body is not what the call expects (`what` names the problem, never a value). */
export function malformedError(site: CallSite, status: number, what: string): BridgeError {
  return new BridgeError('ERR_FHIR_MALFORMED', `${describe(site)} answered ${status} with a malformed body (${what})`, { status });
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
]);

function errorCode(e: unknown): string | undefined {
  const code: unknown = (e as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && /^[\w.-]{1,64}$/.test(code) ? code : undefined;
}

/**
 * The BridgeError for a call that got no (complete) answer. Timeouts and network failures → ERR_FHIR_UNAVAILABLE
 * (transient: every call of this layer is a read or an idempotent DELETE, so repeating it is safe); anything else
 * (a bug, a refused argument) → ERR_FHIR_REQUEST. Already-typed BridgeErrors pass through.
 */
export function transportError(site: CallSite, e: unknown, timeoutMs: number): BridgeError {
  if (e instanceof BridgeError) return e;
  // Duck-typed, not instanceof: fetch's errors may come from another realm (undici inside jest's sandbox).
  const err = e !== null && typeof e === 'object' ? (e as { name?: unknown; message?: unknown; cause?: unknown }) : {};
  const name = typeof err.name === 'string' && /^[\w$.]{1,64}$/.test(err.name) ? err.name : 'Error';
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new BridgeError('ERR_FHIR_UNAVAILABLE', `${describe(site)}: no answer within ${timeoutMs} ms`, { cause: e });
  }
  const code = errorCode(err.cause) ?? errorCode(e);
  // undici's fetch reports every network failure as TypeError('fetch failed') with the socket error as cause.
  const network = (name === 'TypeError' && err.message === 'fetch failed') || (code !== undefined && NETWORK_CODES.has(code));
  if (network) return new BridgeError('ERR_FHIR_UNAVAILABLE', `${describe(site)}: cannot reach the server (${code ?? name})`, { cause: e });
  return new BridgeError('ERR_FHIR_REQUEST', `${describe(site)} failed before an answer (${name})`, { cause: e });
}
