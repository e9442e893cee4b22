/**
 * The FHIR layer's polite retry (DESIGN §6): transient BridgeErrors (429, 408, 5xx, timeouts, refused/reset
 * connections) are retried with exponential backoff and jitter; a Retry-After is honoured — the next attempt is
 * never sooner. p-retry counts the attempts and stops on anything that is not transient; the wait itself is
 * computed here (p-retry's own delay is 0) so that it can be max(backoff, Retry-After) and be logged exactly.
 */
import pRetry from 'p-retry';
import { isBridgeError } from '../../src/errors';
import type { Logger } from '../../src/log';
import type { CallSite } from './fhir-http-errors';

export interface RetryOptions {
  /** Retries after the first attempt (default 5, so at most 6 requests). 0 turns retrying off. */
  readonly retries?: number;
  /** Backoff before the first retry (default 500 ms); doubles per retry, with jitter (50–100 % of the step). */
  readonly minTimeoutMs?: number;
  /** Largest backoff step (default 60,000 ms). A Retry-After may ask for longer: see maxRetryAfterMs. */
  readonly maxTimeoutMs?: number;
  /**
   * The longest Retry-After waited for in-process (default 300,000 ms = 5 minutes). A server asking for more gets
   * no retry from this layer: the ERR_FHIR_UNAVAILABLE (with retryAfterMs) goes to the caller, whose job or poll
   * schedule comes back later — never sooner than asked.
   */
  readonly maxRetryAfterMs?: number;
}

/** Runs `attempt` with retries; rejects with the last BridgeError. */
export type Retrier = <T>(site: CallSite, attempt: () => Promise<T>) => Promise<T>;

export function createRetrier(options: RetryOptions | undefined, log: Logger, random: () => number = Math.random): Retrier {
  const retries = options?.retries ?? 5;
  const minTimeoutMs = options?.minTimeoutMs ?? 500;
  const maxTimeoutMs = options?.maxTimeoutMs ?? 60_000;
  const maxRetryAfterMs = options?.maxRetryAfterMs ?? 300_000;

  const retryable = (e: unknown): boolean =>
    isBridgeError(e) && e.errorClass === 'transient' && (e.retryAfterMs ?? 0) <= maxRetryAfterMs;

  return <T>(site: CallSite, attempt: () => Promise<T>): Promise<T> =>
    pRetry(attempt, {
      retries,
      minTimeout: 0,
      factor: 1,
      randomize: false,
      shouldRetry: ({ error }) => retryable(error),
      async onFailedAttempt({ error, attemptNumber, retriesLeft, retriesConsumed }) {
        if (!isBridgeError(error) || error.errorClass !== 'transient') return;
        const fields = { method: site.method, path: site.where, status: error.status, code: error.code, attempt: attemptNumber };
        if (!retryable(error)) {
          log.warn('fhir request not retried: retry-after beyond the cap', { ...fields, retryAfterMs: error.retryAfterMs, maxRetryAfterMs });
          return;
        }
        if (retriesLeft <= 0) {
          log.warn('fhir request failed after retries', fields);
          return;
        }
        const step = Math.min(maxTimeoutMs, minTimeoutMs * 2 ** retriesConsumed);
        const delayMs = Math.max(Math.round(step / 2 + (random() * step) / 2), error.retryAfterMs ?? 0);
        log.debug('fhir request retry', { ...fields, delayMs, retryAfterMs: error.retryAfterMs });
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      },
    });
}
