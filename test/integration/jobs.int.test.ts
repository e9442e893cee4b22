import { openStore, type Store } from '../../src/store';
import { describeEachDatabase } from '../helpers/db';

jest.setTimeout(60_000);

const T0 = new Date('2026-01-10T14:00:00.000Z');
const at = (ms: number): Date => new Date(T0.getTime() + ms);
const iso = (ms: number): string => at(ms).toISOString();
const LEASE = 60_000;

async function claimOne(store: Store, workerId: string, now: Date) {
  const jobs = await store.jobs.claim({ workerId, now, leaseMs: LEASE, limit: 1 });
  expect(jobs).toHaveLength(1);
  return jobs[0]!;
}

describeEachDatabase('jobs', (db) => {
  test('enqueue makes one queued row per key, also under 20 concurrent enqueues of the same key', async () => {
    await db.withStore(async (store) => {
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.jobs.enqueue(['c:1'], { now: at(i), triggerInboxId: i + 1 })));
      expect(await store.knex('jobs').count({ n: '*' })).toEqual([{ n: db.dialect === 'postgres' ? '1' : 1 }]);
      const job = await store.jobs.getJob({ key: 'c:1' });
      expect(job).toMatchObject({ key: 'c:1', kind: 'reconcile', status: 'queued', attempts: 0, nextAttemptAt: iso(0), dirty: false });

      // Many keys, overlapping, in different orders, at once: still one row per key.
      const keys = Array.from({ length: 12 }, (_, i) => `e:k${i}`);
      await Promise.all(Array.from({ length: 8 }, (_, i) => store.jobs.enqueue(i % 2 === 0 ? keys : [...keys].reverse().concat(keys.slice(0, 3)), { now: T0 })));
      expect(await store.jobs.counts()).toEqual({ queued: 13, running: 0, succeeded: 0, failed: 0 });
    });
  });

  test('claim → complete → succeeded; enqueue again → queued afresh', async () => {
    await db.withStore(async (store) => {
      await store.jobs.enqueue(['c:1'], { now: T0, triggerInboxId: 42 });
      expect(await store.jobs.claim({ workerId: 'w1', now: at(-1), leaseMs: LEASE, limit: 5 })).toEqual([]);
      const job = await claimOne(store, 'w1', T0);
      expect(job).toMatchObject({ key: 'c:1', status: 'running', attempts: 1, lockedBy: 'w1', lockedUntil: iso(LEASE), triggerInboxId: 42 });
      expect(await store.jobs.claim({ workerId: 'w2', now: at(1000), leaseMs: LEASE, limit: 5 })).toEqual([]);
      expect(await store.jobs.counts()).toEqual({ queued: 0, running: 1, succeeded: 0, failed: 0 });

      expect(await store.jobs.complete(job.id, 'w2', { now: at(1000) })).toBeUndefined();
      expect(await store.jobs.complete(job.id, 'w1', { now: at(1000) })).toBe('succeeded');
      expect(await store.jobs.getJob({ id: job.id })).toMatchObject({ status: 'succeeded', lockedBy: undefined, lockedUntil: undefined, attempts: 1 });
      expect(await store.jobs.complete(job.id, 'w1', { now: at(1001) })).toBeUndefined();

      await store.jobs.enqueue(['c:1'], { now: at(5000) });
      expect(await store.jobs.getJob({ key: 'c:1' })).toMatchObject({ id: job.id, status: 'queued', attempts: 0, nextAttemptAt: iso(5000), triggerInboxId: 42 });
      expect(await store.jobs.nextDueAt()).toBe(iso(5000));
    });
  });

  test('enqueued while running → dirty → queued again when the run completes, then runs once more', async () => {
    await db.withStore(async (store) => {
      await store.jobs.enqueue(['c:1'], { now: T0 });
      const job = await claimOne(store, 'w1', T0);
      await store.jobs.enqueue(['c:1'], { now: at(100), triggerInboxId: 7 });
      await store.jobs.enqueue(['c:1'], { now: at(200) });
      expect(await store.jobs.getJob({ id: job.id })).toMatchObject({ status: 'running', dirty: true, lockedBy: 'w1', triggerInboxId: 7 });

      expect(await store.jobs.complete(job.id, 'w1', { now: at(300) })).toBe('queued');
      expect(await store.jobs.getJob({ id: job.id })).toMatchObject({ status: 'queued', dirty: false, attempts: 0, nextAttemptAt: iso(300) });
      const rerun = await claimOne(store, 'w1', at(300));
      expect(rerun).toMatchObject({ id: job.id, attempts: 1, dirty: false });
      expect(await store.jobs.complete(job.id, 'w1', { now: at(400) })).toBe('succeeded');
    });
  });

  test('failures back off exponentially with full jitter (random injected); a new enqueue pulls the retry forward', async () => {
    await db.withStore(async (store) => {
      await store.jobs.enqueue(['c:1'], { now: T0 });
      const half = () => 0.5;
      let now = 0;
      const delays: number[] = [];
      for (let attempt = 1; attempt <= 5; attempt++) {
        const job = await claimOne(store, 'w1', at(now));
        expect(job.attempts).toBe(attempt);
        expect(await store.jobs.fail(job.id, 'w1', { code: 'ERR_PORTAL_UNAVAILABLE', message: 'portal answered 503', class: 'transient', now: at(now), random: half })).toBe('queued');
        const next = Date.parse((await store.jobs.getJob({ id: job.id }))!.nextAttemptAt) - at(now).getTime();
        delays.push(next);
        expect(await store.jobs.claim({ workerId: 'w1', now: at(now + next - 1), leaseMs: LEASE, limit: 1 })).toEqual([]);
        now += next;
      }
      // Ceilings 1 s, 2 s, 4 s, 8 s, 16 s; random 0.5 → half of each.
      expect(delays).toEqual([500, 1000, 2000, 4000, 8000]);
      expect(await store.jobs.getJob({ key: 'c:1' })).toMatchObject({ status: 'queued', attempts: 5, lastErrorCode: 'ERR_PORTAL_UNAVAILABLE', lastError: 'portal answered 503' });

      // A new input for the key: due now, the attempt count kept.
      await store.jobs.enqueue(['c:1'], { now: at(now - 5000) });
      expect(await store.jobs.getJob({ key: 'c:1' })).toMatchObject({ status: 'queued', attempts: 5, nextAttemptAt: iso(now - 5000) });
      // A later enqueue never pushes it back.
      await store.jobs.enqueue(['c:1'], { now: at(now + 99_000) });
      expect((await store.jobs.getJob({ key: 'c:1' }))?.nextAttemptAt).toBe(iso(now - 5000));
    });
  });

  test("Retry-After is a floor under the jittered delay; the cap bounds the jitter's ceiling", async () => {
    await db.withStore(async (store) => {
      await store.jobs.enqueue(['c:1'], { now: T0 });
      const job = await claimOne(store, 'w1', T0);
      await store.jobs.fail(job.id, 'w1', { code: 'ERR_PORTAL_RATE_LIMITED', message: '429', class: 'transient', retryAfterMs: 30_000, now: T0, random: () => 0.1 });
      expect((await store.jobs.getJob({ id: job.id }))?.nextAttemptAt).toBe(iso(30_000));

      const again = await claimOne(store, 'w1', at(30_000));
      const policy = { baseMs: 1000, factor: 2, capMs: 1500, maxAttempts: 8 };
      await store.jobs.fail(again.id, 'w1', { code: 'ERR_PORTAL_TIMEOUT', message: 'timeout', class: 'ambiguous', now: at(30_000), random: () => 0.999, policy });
      expect((await store.jobs.getJob({ id: job.id }))?.nextAttemptAt).toBe(iso(30_000 + 1498));
    });
  });

  test('a permanent error fails the job at once; the retry budget fails it after the last attempt', async () => {
    await db.withStore(async (store) => {
      await store.jobs.enqueue(['c:perm', 'c:budget'], { now: T0 });
      const jobs = await store.jobs.claim({ workerId: 'w1', now: T0, leaseMs: LEASE, limit: 5 });
      const perm = jobs.find((j) => j.key === 'c:perm')!;
      expect(await store.jobs.fail(perm.id, 'w1', { code: 'ERR_PORTAL_EMAIL_IN_USE', message: 'email in use', class: 'permanent', now: T0 })).toBe('failed');
      expect(await store.jobs.getJob({ id: perm.id })).toMatchObject({ status: 'failed', attempts: 1, lastErrorCode: 'ERR_PORTAL_EMAIL_IN_USE', lockedBy: undefined });

      let job = jobs.find((j) => j.key === 'c:budget')!;
      const outcomes: (string | undefined)[] = [];
      for (let n = 1; n <= 8; n++) {
        expect(job.attempts).toBe(n);
        outcomes.push(await store.jobs.fail(job.id, 'w1', { code: 'ERR_PORTAL_UNAVAILABLE', message: '503', class: 'transient', now: T0, random: () => 0 }));
        if (n < 8) job = await claimOne(store, 'w1', T0);
      }
      expect(outcomes).toEqual([...Array<string>(7).fill('queued'), 'failed']);
      expect((await store.jobs.listFailed({ limit: 10 })).map((j) => j.key).sort()).toEqual(['c:budget', 'c:perm']);
      expect(await store.jobs.claim({ workerId: 'w1', now: at(3_600_000), leaseMs: LEASE, limit: 5 })).toEqual([]);
      expect(await store.jobs.nextDueAt()).toBeUndefined();
    });
  });

  test('a failed run of a key re-enqueued meanwhile goes back to the queue (the new input may cure it)', async () => {
    await db.withStore(async (store) => {
      await store.jobs.enqueue(['c:1'], { now: T0 });
      const job = await claimOne(store, 'w1', T0);
      await store.jobs.enqueue(['c:1'], { now: at(10) });
      expect(await store.jobs.fail(job.id, 'w1', { code: 'ERR_PORTAL_INVALID_REQUEST', message: 'invalid email', class: 'permanent', now: at(20) })).toBe('queued');
      expect(await store.jobs.getJob({ id: job.id })).toMatchObject({ status: 'queued', attempts: 0, dirty: false, nextAttemptAt: iso(20), lastErrorCode: 'ERR_PORTAL_INVALID_REQUEST' });
    });
  });

  test('an expired lease is reclaimed by another worker; the first worker can no longer end the job', async () => {
    await db.withStore(async (store) => {
      await store.jobs.enqueue(['c:1'], { now: T0 });
      const first = await claimOne(store, 'w1', T0);
      expect(await store.jobs.claim({ workerId: 'w2', now: at(LEASE - 1), leaseMs: LEASE, limit: 5 })).toEqual([]);
      expect(await store.jobs.nextDueAt()).toBe(iso(LEASE));
      const second = await claimOne(store, 'w2', at(LEASE));
      expect(second).toMatchObject({ id: first.id, attempts: 2, lockedBy: 'w2', lockedUntil: iso(2 * LEASE) });
      expect(await store.jobs.complete(first.id, 'w1', { now: at(LEASE + 1) })).toBeUndefined();
      expect(await store.jobs.fail(first.id, 'w1', { code: 'ERR_PORTAL_UNAVAILABLE', message: '503', class: 'transient', now: at(LEASE + 1) })).toBeUndefined();
      expect(await store.jobs.complete(first.id, 'w2', { now: at(LEASE + 2) })).toBe('succeeded');
    });
  });

  test('a job whose worker never finishes it goes to the failed list once its attempts are spent (not retried forever)', async () => {
    await db.withStore(async (store) => {
      await store.jobs.enqueue(['c:1'], { now: T0 });
      for (let run = 0; run < 3; run++) {
        const job = (await store.jobs.claim({ workerId: `w${run}`, now: at(run * LEASE), leaseMs: LEASE, limit: 5, maxAttempts: 3 }))[0];
        expect(job?.attempts).toBe(run + 1);
        // …and the worker dies: its lease runs out.
      }
      expect(await store.jobs.claim({ workerId: 'w9', now: at(3 * LEASE), leaseMs: LEASE, limit: 5, maxAttempts: 3 })).toEqual([]);
      expect(await store.jobs.getJob({ key: 'c:1' })).toMatchObject({ status: 'failed', attempts: 3, lastErrorCode: 'ERR_JOB_ABANDONED', lockedBy: undefined });
      expect((await store.jobs.listFailed({ limit: 5 })).map((j) => j.key)).toEqual(['c:1']);
      expect(await store.jobs.requeue({ allFailed: true }, { now: at(4 * LEASE) })).toEqual(['c:1']);
      expect((await store.jobs.claim({ workerId: 'w10', now: at(4 * LEASE), leaseMs: LEASE, limit: 5, maxAttempts: 3 }))[0]?.attempts).toBe(1);
    });
  });

  test('requeue replays failed jobs, by id or all of them', async () => {
    await db.withStore(async (store) => {
      await store.jobs.enqueue(['c:1', 'c:2', 'c:3'], { now: T0 });
      const jobs = await store.jobs.claim({ workerId: 'w1', now: T0, leaseMs: LEASE, limit: 5 });
      for (const job of jobs) await store.jobs.fail(job.id, 'w1', { code: 'ERR_PORTAL_FORBIDDEN', message: '403', class: 'permanent', now: T0 });
      expect((await store.jobs.counts()).failed).toBe(3);

      const one = jobs.find((j) => j.key === 'c:2')!;
      expect(await store.jobs.requeue([one.id], { now: at(1000) })).toEqual(['c:2']);
      expect(await store.jobs.getJob({ id: one.id })).toMatchObject({ status: 'queued', attempts: 0, nextAttemptAt: iso(1000) });
      expect(await store.jobs.requeue({ allFailed: true }, { now: at(2000) })).toEqual(['c:1', 'c:3']);
      expect(await store.jobs.counts()).toEqual({ queued: 3, running: 0, succeeded: 0, failed: 0 });
      expect(await store.jobs.requeue([], { now: at(3000) })).toEqual([]);
    });
  });

  if (db.dialect === 'postgres') {
    test('two daemons (two connection pools) claim disjoint jobs: SKIP LOCKED passes over rows another holds', async () => {
      await db.withStore(async (a) => {
        const b = await openStore(db.options());
        try {
          const keys = Array.from({ length: 40 }, (_, i) => `c:${String(i).padStart(2, '0')}`);
          await a.jobs.enqueue(keys, { now: T0 });

          // A holds its claimed rows locked (open transaction) while B claims: B gets other rows at once.
          const [heldByA, takenByB] = await a.transaction(async (tx) => {
            const mine = await tx.jobs.claim({ workerId: 'a', now: T0, leaseMs: LEASE, limit: 5 });
            const theirs = await b.jobs.claim({ workerId: 'b', now: T0, leaseMs: LEASE, limit: 5 });
            return [mine, theirs];
          });
          expect(heldByA).toHaveLength(5);
          expect(takenByB).toHaveLength(5);
          expect(heldByA.map((j) => j.id).filter((id) => takenByB.some((j) => j.id === id))).toEqual([]);

          // Both race to drain the rest, one job at a time: every job is claimed exactly once.
          const claimed: string[] = [];
          const drain = async (store: Store, workerId: string) => {
            for (;;) {
              const got = await store.jobs.claim({ workerId, now: T0, leaseMs: LEASE, limit: 1 });
              if (got.length === 0) return;
              claimed.push(got[0]!.key);
            }
          };
          await Promise.all([drain(a, 'a'), drain(b, 'b'), drain(a, 'a2'), drain(b, 'b2')]);
          expect(claimed).toHaveLength(30);
          expect(new Set([...claimed, ...heldByA.map((j) => j.key), ...takenByB.map((j) => j.key)]).size).toBe(40);
        } finally {
          await b.close();
        }
      });
    });
  }
});
