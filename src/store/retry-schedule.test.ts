import fc from 'fast-check';
import { backoffDelayMs, DEFAULT_RETRY_POLICY, nextRetry } from './retry-schedule';

const NOW = new Date('2026-01-10T14:00:00.000Z');
const constant = (r: number) => () => r;

describe('backoffDelayMs', () => {
  test('full jitter under a ceiling of 1 s × 2^(attempt−1), capped at 10 minutes', () => {
    const ceilings = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((n) => backoffDelayMs(n, constant(0.999999999)) + 1);
    expect(ceilings).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 512_000, 600_000, 600_000]);
    expect(backoffDelayMs(3, constant(0))).toBe(0);
    expect(backoffDelayMs(3, constant(0.25))).toBe(1_000);
  });

  test('always within [0, ceiling), whatever the random source returns', () => {
    fc.assert(
      fc.property(fc.integer({ min: -2, max: 60 }), fc.double({ min: -1, max: 2, noNaN: true }), (attempt, r) => {
        const d = backoffDelayMs(attempt, constant(r));
        const ceiling = Math.min(600_000, 1_000 * 2 ** Math.max(0, attempt - 1));
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(ceiling);
      }),
    );
  });
});

describe('nextRetry', () => {
  test('permanent fails at once, before any budget', () => {
    expect(nextRetry({ attempts: 1, errorClass: 'permanent', now: NOW, random: constant(0.5) })).toEqual({ kind: 'fail', reason: 'permanent' });
  });

  test('transient and ambiguous retry until the budget (8 runs by default) is spent', () => {
    expect(nextRetry({ attempts: 1, errorClass: 'transient', now: NOW, random: constant(0.5) })).toEqual({ kind: 'retry', delayMs: 500, at: new Date('2026-01-10T14:00:00.500Z') });
    expect(nextRetry({ attempts: 7, errorClass: 'ambiguous', now: NOW, random: constant(0.5) })).toMatchObject({ kind: 'retry', delayMs: 32_000 });
    expect(nextRetry({ attempts: DEFAULT_RETRY_POLICY.maxAttempts, errorClass: 'transient', now: NOW, random: constant(0.5) })).toEqual({ kind: 'fail', reason: 'budget' });
    expect(nextRetry({ attempts: 2, errorClass: 'transient', now: NOW, random: constant(0.5), policy: { ...DEFAULT_RETRY_POLICY, maxAttempts: 2 } })).toEqual({ kind: 'fail', reason: 'budget' });
  });

  test('Retry-After is a floor, also above the cap; a shorter one leaves the jittered delay', () => {
    expect(nextRetry({ attempts: 1, errorClass: 'transient', retryAfterMs: 30_000, now: NOW, random: constant(0.5) })).toMatchObject({ delayMs: 30_000 });
    expect(nextRetry({ attempts: 1, errorClass: 'transient', retryAfterMs: 3_600_000, now: NOW, random: constant(0.5) })).toMatchObject({ delayMs: 3_600_000 });
    expect(nextRetry({ attempts: 5, errorClass: 'transient', retryAfterMs: 100, now: NOW, random: constant(0.5) })).toMatchObject({ delayMs: 8_000 });
    expect(nextRetry({ attempts: 1, errorClass: 'transient', retryAfterMs: 1500.2, now: NOW, random: constant(0) })).toMatchObject({ delayMs: 1501 });
  });
});
