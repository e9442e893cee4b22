import { FaultInjector, FaultsSchema, type FaultDecision } from './faults';

function run(faults: unknown, n: number): FaultDecision[] {
  const injector = new FaultInjector();
  injector.set(FaultsSchema.parse(faults));
  return Array.from({ length: n }, () => injector.next());
}

test('no faults: every request passes untouched', () => {
  expect(new FaultInjector().next()).toEqual({ kind: 'pass', latencyMs: 0, drop: false });
});

test('a seed makes the sequence repeatable; another seed changes it', () => {
  const faults = { errorRate: 0.3, dropAfterCommitRate: 0.3, seed: 7 };
  const first = run(faults, 50);
  expect(run(faults, 50)).toEqual(first);
  expect(run({ ...faults, seed: 8 }, 50)).not.toEqual(first);
  const kinds = first.map((d) => (d.kind === 'reject' ? d.status : d.drop ? 'drop' : 'ok'));
  expect(new Set(kinds)).toEqual(new Set([503, 'drop', 'ok']));
});

test('the rate limit hits every n-th request and does not shift the random sequence', () => {
  const limited = run({ rateLimit: { every: 3, retryAfterSeconds: 2 }, errorRate: 0.5, seed: 1 }, 9);
  expect(limited.map((d, i) => (i % 3 === 2 ? d : undefined)).filter((d) => d !== undefined)).toEqual(Array(3).fill({ kind: 'reject', status: 429, retryAfterSeconds: 2 }));
  const plain = run({ errorRate: 0.5, seed: 1 }, 9);
  limited.forEach((d, i) => {
    if (i % 3 !== 2) expect(d).toEqual(plain[i]);
  });
});

test('rates of 0 and 1 are exact; latency and status come through', () => {
  expect(run({ errorRate: 1, errorStatus: 502, errorRetryAfterSeconds: 4 }, 5)).toEqual(Array(5).fill({ kind: 'reject', status: 502, retryAfterSeconds: 4 }));
  expect(run({ dropAfterCommitRate: 1, latencyMs: 20 }, 3)).toEqual(Array(3).fill({ kind: 'pass', latencyMs: 20, drop: true }));
  expect(run({ errorRate: 0, dropAfterCommitRate: 0 }, 3)).toEqual(Array(3).fill({ kind: 'pass', latencyMs: 0, drop: false }));
});

test('the schema refuses rates outside 0..1 and unknown fields', () => {
  expect(FaultsSchema.safeParse({ errorRate: 1.5 }).success).toBe(false);
  expect(FaultsSchema.safeParse({ rateLimit: { every: 0 } }).success).toBe(false);
  expect(FaultsSchema.safeParse({ shoeSize: 1 }).success).toBe(false);
  expect(FaultsSchema.parse({ rateLimit: { every: 2 } }).rateLimit).toEqual({ every: 2, retryAfterSeconds: 1 });
});
