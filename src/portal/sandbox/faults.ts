/**
 * Fault injection for the sandbox (`POST /v1/_faults`): 5xx rate, 429 every n requests with Retry-After,
 * latency, and drop-after-commit. Applies to /v1 routes whose name does not start with `_`.
 * With a `seed` the sequence of decisions is repeatable: request n gets the same fate in every run.
 */
import { randomInt } from 'node:crypto';
import { z } from 'zod';

/** The body of `POST /v1/_faults`. */
export const FaultsSchema = z.strictObject({
  /** Share (0..1) of requests answered with a 5xx before any work. */
  errorRate: z.number().min(0).max(1).optional(),
  /** The status of those errors (default 503). */
  errorStatus: z.number().int().min(500).max(599).optional(),
  /** Retry-After (seconds) sent with those errors; none by default. */
  errorRetryAfterSeconds: z.number().int().min(0).optional(),
  /** Every n-th request (1 = all) is answered 429 with Retry-After (default 1 s). */
  rateLimit: z.strictObject({ every: z.number().int().min(1), retryAfterSeconds: z.number().int().min(0).default(1) }).optional(),
  /** Delay before the work, in milliseconds (after an idempotency key is claimed, so it shows in-flight 409s). */
  latencyMs: z.number().int().min(0).max(120_000).optional(),
  /** Share (0..1) of requests whose work is done and committed, then the socket is destroyed unanswered. */
  dropAfterCommitRate: z.number().min(0).max(1).optional(),
  /** Seed of the decision sequence (any integer); random when absent. */
  seed: z.number().int().optional(),
});

/** The faults a test asks for. */
export type SandboxFaults = z.input<typeof FaultsSchema>;
type ParsedFaults = z.output<typeof FaultsSchema>;

/** What happens to one request. */
export type FaultDecision =
  | { readonly kind: 'reject'; readonly status: number; readonly retryAfterSeconds?: number }
  | { readonly kind: 'pass'; readonly latencyMs: number; readonly drop: boolean };

const PASS: FaultDecision = { kind: 'pass', latencyMs: 0, drop: false };

/** Holds the active faults and decides each request's fate. */
export class FaultInjector {
  private faults: ParsedFaults | undefined;
  private random: () => number = Math.random;
  private count = 0;

  /** Replaces the active faults and restarts the decision sequence. */
  set(faults: ParsedFaults): void {
    this.faults = faults;
    this.count = 0;
    this.random = mulberry32(faults.seed ?? randomInt(0, 2 ** 31));
  }

  /** No faults from now on. */
  clear(): void {
    this.faults = undefined;
    this.count = 0;
  }

  /** The active faults (undefined when none). */
  current(): ParsedFaults | undefined {
    return this.faults;
  }

  /** The fate of the next request. Draws the same number of random values whatever the outcome. */
  next(): FaultDecision {
    const f = this.faults;
    if (f === undefined) return PASS;
    this.count += 1;
    const errorDraw = this.random();
    const dropDraw = this.random();
    if (f.rateLimit !== undefined && this.count % f.rateLimit.every === 0) {
      return { kind: 'reject', status: 429, retryAfterSeconds: f.rateLimit.retryAfterSeconds };
    }
    if (errorDraw < (f.errorRate ?? 0)) {
      const status = f.errorStatus ?? 503;
      return f.errorRetryAfterSeconds === undefined ? { kind: 'reject', status } : { kind: 'reject', status, retryAfterSeconds: f.errorRetryAfterSeconds };
    }
    return { kind: 'pass', latencyMs: f.latencyMs ?? 0, drop: dropDraw < (f.dropAfterCommitRate ?? 0) };
  }
}

/** A small, fast, seedable PRNG (mulberry32): uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
