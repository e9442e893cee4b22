/**
 * How the REST client turns portal answers and transport failures into BridgeErrors (ERR_PORTAL_*). Messages are
 * one line — method, route template, status or transport code — and never carry patient data.
 */
import axios from 'axios';
import type { ClientRequest } from 'node:http';
import { BridgeError, type ErrorCode } from '../../errors';

/** Which call failed: the method and the route template (`PATCH /v1/accounts/{id}`), never the concrete URL. */
export interface CallSite {
  readonly method: string;
  readonly route: string;
}

/** Failures where nothing reached the portal. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/**
 * Milliseconds to wait from a Retry-After header: delay-seconds or an HTTP-date (relative to `nowMs`, floored at 0).
 * Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  const text = value?.trim();
  if (text === undefined || text === '') return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP-date names its day and month; a bare number that is not delay-seconds (e.g. -5) is unreadable.
  const at = /[a-z]/i.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** The problem's `code` (or the last segment of its `type` URI), when it looks like a code. */
export function problemCode(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const { code, type } = body as { code?: unknown; type?: unknown };
  const candidate = typeof code === 'string' ? code : typeof type === 'string' ? type.split('/').pop() : undefined;
  return candidate !== undefined && /^[a-z][a-z0-9_]{0,59}$/.test(candidate) ? candidate : undefined;
}

const CONFLICT_CODES: Readonly<Record<string, ErrorCode>> = {
  email_in_use: 'ERR_PORTAL_EMAIL_IN_USE',
  in_flight: 'ERR_PORTAL_IN_FLIGHT',
  // The account holds dependents no longer (policy refusal), e.g. inviting a disabled account.
  account_disabled: 'ERR_PORTAL_FORBIDDEN',
  // An account with our externalId exists that the caller did not see: re-read and adopt it.
  external_id_in_use: 'ERR_PORTAL_PRECONDITION_FAILED',
};

function codeForStatus(status: number, problem: string | undefined): ErrorCode {
  if (status === 429) return 'ERR_PORTAL_RATE_LIMITED';
  if (status >= 500 && status <= 599) return 'ERR_PORTAL_UNAVAILABLE';
  switch (status) {
    case 409:
      return (problem === undefined ? undefined : CONFLICT_CODES[problem]) ?? 'ERR_PORTAL_UNEXPECTED';
    case 412:
      return 'ERR_PORTAL_PRECONDITION_FAILED';
    case 400:
    case 422:
    case 428:
      return 'ERR_PORTAL_INVALID_REQUEST';
    case 401:
    case 403:
      return 'ERR_PORTAL_FORBIDDEN';
    case 404:
      return 'ERR_PORTAL_NOT_FOUND';
    case 410:
      return 'ERR_PORTAL_CURSOR_EXPIRED';
    default:
      return 'ERR_PORTAL_UNEXPECTED';
  }
}

/** The BridgeError for an answer the call does not accept. Retry-After is kept for 429, 5xx and 409 in flight. */
export function statusError(site: CallSite, status: number, body: unknown, retryAfter: string | undefined, nowMs: number): BridgeError {
  const problem = problemCode(body);
  const code = codeForStatus(status, problem);
  const waits = code === 'ERR_PORTAL_RATE_LIMITED' || code === 'ERR_PORTAL_UNAVAILABLE' || code === 'ERR_PORTAL_IN_FLIGHT';
  const retryAfterMs = waits ? parseRetryAfter(retryAfter, nowMs) : undefined;
  const message = `${site.method} ${site.route} answered ${status}${problem === undefined ? '' : ` (${problem})`}`;
  return new BridgeError(code, message, retryAfterMs === undefined ? { status } : { status, retryAfterMs });
}

/** A 2xx answer whose body breaks the contract. */
export function malformedError(site: CallSite, status: number, what: string): BridgeError {
  return new BridgeError('ERR_PORTAL_UNEXPECTED', `${site.method} ${site.route} answered ${status} with a malformed body (${what})`, { status });
}

/**
 * The BridgeError for a request that got no answer. Nothing sent (refused, DNS, reset or timeout before the
 * request was written) → ERR_PORTAL_CONNECTION; sent and then no answer (timeout, hang-up, reset) →
 * ERR_PORTAL_TIMEOUT, which is ambiguous: the portal may have done the work.
 */
export function transportError(site: CallSite, error: unknown): BridgeError {
  if (!axios.isAxiosError(error)) {
    return new BridgeError('ERR_PORTAL_UNEXPECTED', `${site.method} ${site.route} failed before sending (${error instanceof Error ? error.name : typeof error})`);
  }
  const code = error.code ?? 'unknown';
  const request = error.request as Partial<ClientRequest> | undefined;
  const sent = request?.writableFinished === true;
  if (NEVER_SENT.has(code) || !sent) {
    return new BridgeError('ERR_PORTAL_CONNECTION', `${site.method} ${site.route}: cannot reach the portal (${code})`);
  }
  return new BridgeError('ERR_PORTAL_TIMEOUT', `${site.method} ${site.route}: no answer after the request was sent (${code})`);
}
