import { parseRetryAfter, problemCode, statusError } from './error-mapping';

const site = { method: 'POST', route: '/v1/accounts' };
const now = Date.parse('2026-01-15T10:00:00Z');

test('Retry-After: delay-seconds, HTTP-date (relative to now, never negative), garbage', () => {
  expect(parseRetryAfter('120', now)).toBe(120_000);
  expect(parseRetryAfter(' 0 ', now)).toBe(0);
  expect(parseRetryAfter('Thu, 15 Jan 2026 10:00:30 GMT', now)).toBe(30_000);
  expect(parseRetryAfter('Thu, 15 Jan 2026 09:00:00 GMT', now)).toBe(0);
  expect(parseRetryAfter('soon', now)).toBeUndefined();
  expect(parseRetryAfter('-5', now)).toBeUndefined();
  expect(parseRetryAfter(undefined, now)).toBeUndefined();
});

test('the problem code comes from `code`, else the last segment of `type`', () => {
  expect(problemCode({ code: 'email_in_use' })).toBe('email_in_use');
  expect(problemCode({ type: 'https://x.example/problems/in_flight' })).toBe('in_flight');
  expect(problemCode({ code: 'Robert; DROP' })).toBeUndefined();
  expect(problemCode('text')).toBeUndefined();
});

test.each([
  [429, undefined, 'ERR_PORTAL_RATE_LIMITED'],
  [500, undefined, 'ERR_PORTAL_UNAVAILABLE'],
  [503, undefined, 'ERR_PORTAL_UNAVAILABLE'],
  [409, 'email_in_use', 'ERR_PORTAL_EMAIL_IN_USE'],
  [409, 'in_flight', 'ERR_PORTAL_IN_FLIGHT'],
  [409, 'account_disabled', 'ERR_PORTAL_FORBIDDEN'],
  [409, 'external_id_in_use', 'ERR_PORTAL_PRECONDITION_FAILED'],
  [409, undefined, 'ERR_PORTAL_UNEXPECTED'],
  [412, undefined, 'ERR_PORTAL_PRECONDITION_FAILED'],
  [400, undefined, 'ERR_PORTAL_INVALID_REQUEST'],
  [422, 'idempotency_key_reused', 'ERR_PORTAL_INVALID_REQUEST'],
  [428, undefined, 'ERR_PORTAL_INVALID_REQUEST'],
  [401, undefined, 'ERR_PORTAL_FORBIDDEN'],
  [403, undefined, 'ERR_PORTAL_FORBIDDEN'],
  [404, undefined, 'ERR_PORTAL_NOT_FOUND'],
  [410, undefined, 'ERR_PORTAL_CURSOR_EXPIRED'],
  [302, undefined, 'ERR_PORTAL_UNEXPECTED'],
  [418, undefined, 'ERR_PORTAL_UNEXPECTED'],
])('status %i (%s) → %s', (status, code, expected) => {
  const e = statusError(site, status, code === undefined ? undefined : { code }, undefined, now);
  expect(e.code).toBe(expected);
  expect(e.status).toBe(status);
});

test('Retry-After is kept for 429, 5xx and in-flight only', () => {
  expect(statusError(site, 429, undefined, '2', now).retryAfterMs).toBe(2000);
  expect(statusError(site, 503, undefined, '3', now).retryAfterMs).toBe(3000);
  expect(statusError(site, 409, { code: 'in_flight' }, '1', now).retryAfterMs).toBe(1000);
  expect(statusError(site, 422, undefined, '1', now).retryAfterMs).toBeUndefined();
});

test('the message is one line: method, route template, status, code — never the problem detail', () => {
  const e = statusError(site, 409, { code: 'email_in_use', detail: 'nora.sample@example.org is taken by Nora Sample' }, undefined, now);
  expect(e.message).toBe('POST /v1/accounts answered 409 (email_in_use)');
});
