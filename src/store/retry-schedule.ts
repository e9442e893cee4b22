/**
 * When a failed job runs again (DESIGN §6): exponential backoff with full jitter, `Retry-After` as a floor, a
 * budget of attempts. Pure: the clock and the random source are parameters.
 */
import type { ErrorClass } from '../errors';

export interface RetryPolicy {
  /** Delay ceiling of the first retry, in ms. */
  readonly baseMs: number;
  /** Growth of the ceiling per attempt. */
  readonly factor: number;
  /** Largest ceiling, in ms (a server's Retry-After may ask for longer and is honoured). */
  readonly capMs: number;
  /** Attempts in all (the first run included) before a job is `failed`. */
  readonly maxAttempts: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({ baseMs: 1_000, factor: 2, capMs: 600_000, maxAttempts: 8 });

export type RetryDecision =
  | { readonly kind: 'retry'; readonly delayMs: number; readonly at: Date }
  | { readonly kind: 'fail'; readonly reason: 'permanent' | 'budget' };

/**
 * The delay before retry number `attempt` (1 = the first retry, after the first failure): a uniformly random
 * value in [0, min(capMs, baseMs × factor^(attempt−1))) ("full jitter"), whole milliseconds.
 * `random` returns values in [0, 1), as Math.random does.
 */
export function backoffDelayMs(attempt: number, random: () => number, policy: RetryPolicy = DEFAULT_RETRY_POLICY): number {
  const exponent = Math.max(0, attempt - 1);
  const ceiling = Math.min(policy.capMs, policy.baseMs * policy.factor ** exponent);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.min(Math.floor(r * ceiling), Math.max(0, Math.ceil(ceiling) - 1));
}

/**
 * What to do after a run failed. `attempts` counts runs so far, the failed one included.
 * permanent → fail at once; after `maxAttempts` runs → fail; else retry after the backoff delay, never sooner
 * than `retryAfterMs` (the server's Retry-After). transient and ambiguous are retried alike (the idempotency key
 * makes an ambiguous retry safe).
 */
export function nextRetry(input: {
  readonly attempts: number;
  readonly errorClass: ErrorClass;
  readonly retryAfterMs?: number;
  readonly now: Date;
  readonly random: () => number;
  readonly policy?: RetryPolicy;
}): RetryDecision {
  const policy = input.policy ?? DEFAULT_RETRY_POLICY;
  if (input.errorClass === 'permanent') return { kind: 'fail', reason: 'permanent' };
  if (input.attempts >= policy.maxAttempts) return { kind: 'fail', reason: 'budget' };
  const jittered = backoffDelayMs(input.attempts, input.random, policy);
  const delayMs = Math.max(jittered, Math.ceil(input.retryAfterMs ?? 0));
  return { kind: 'retry', delayMs, at: new Date(input.now.getTime() + delayMs) };
}
