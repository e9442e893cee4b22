/**
 * The work queue (DESIGN §2, §6, §9): one row per key holds the key's live state, so each guardian's changes run
 * in order and never twice at once. The database's uniqueness on `key` makes concurrent enqueues of one key meet
 * in one row; PostgreSQL's `FOR UPDATE SKIP LOCKED` lets several daemons claim disjoint jobs.
 */
import type { ErrorClass } from '../errors';
import type { Db } from './db';
import { distinctSorted, lockRows, writeTransaction } from './db';
import { dbTimeAfter, oneLine, optionalText, toBool, toCount, toDbTime, toId, toOptionalId } from './column-values';
import { DEFAULT_RETRY_POLICY, nextRetry, type RetryPolicy } from './retry-schedule';

export const JOB_KINDS = ['reconcile'] as const;
export type JobKind = (typeof JOB_KINDS)[number];
export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export interface Job {
  readonly id: number;
  readonly key: string;
  readonly kind: JobKind;
  readonly status: JobStatus;
  /** Runs started since the job was last (re)queued fresh; the failed-run budget counts these. */
  readonly attempts: number;
  readonly nextAttemptAt: string;
  readonly lastErrorCode?: string;
  readonly lastError?: string;
  readonly lockedBy?: string;
  readonly lockedUntil?: string;
  /** Enqueued again while running: the run's completion puts it back in the queue. */
  readonly dirty: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** The inbox row that last enqueued the key, when known. */
  readonly triggerInboxId?: number;
}

export interface JobFailure {
  readonly code: string;
  /** One line, no patient data. */
  readonly message: string;
  readonly class: ErrorClass;
  /** The server's Retry-After, in ms: the next run is never sooner. */
  readonly retryAfterMs?: number;
  readonly now: Date;
  /** Source of the jitter, values in [0, 1). Default Math.random. */
  readonly random?: () => number;
  readonly policy?: RetryPolicy;
}

export type JobCounts = Record<JobStatus, number>;

/**
 * Asks for each key to be reconciled (idempotent; one statement, safe under concurrency):
 * no job → queued; succeeded / failed → queued afresh (attempts 0, due now); queued → stays queued, due at the
 * earlier of its time and now; running → marked dirty (runs again after this run ends).
 */
export async function enqueue(db: Db, keys: readonly string[], options: { now: Date; triggerInboxId?: number; kind?: JobKind }): Promise<void> {
  // Sorted and distinct: one upsert may not touch a row twice, and a stable order avoids lock cycles on pg.
  const distinct = distinctSorted(keys);
  if (distinct.length === 0) return;
  const now = toDbTime(options.now);
  const rows = distinct.map((key) => ({
    key,
    kind: options.kind ?? 'reconcile',
    status: 'queued',
    attempts: 0,
    next_attempt_at: now,
    dirty: false,
    created_at: now,
    updated_at: now,
    trigger_inbox_id: options.triggerInboxId ?? null,
  }));
  const was = (status: string): string => `jobs.status = '${status}'`;
  const fresh = `${was('succeeded')} OR ${was('failed')}`;
  await db('jobs')
    .insert(rows)
    .onConflict('key')
    .merge({
      status: db.raw(`CASE WHEN ${was('running')} THEN 'running' ELSE 'queued' END`),
      dirty: db.raw(`CASE WHEN ${was('running')} THEN TRUE ELSE jobs.dirty END`),
      attempts: db.raw(`CASE WHEN ${fresh} THEN 0 ELSE jobs.attempts END`),
      next_attempt_at: db.raw(
        `CASE WHEN ${fresh} THEN excluded.next_attempt_at
              WHEN ${was('queued')} AND excluded.next_attempt_at < jobs.next_attempt_at THEN excluded.next_attempt_at
              ELSE jobs.next_attempt_at END`,
      ),
      trigger_inbox_id: db.raw('COALESCE(excluded.trigger_inbox_id, jobs.trigger_inbox_id)'),
      updated_at: db.raw('excluded.updated_at'),
    });
}

/**
 * Claims up to `limit` due jobs for `workerId`: queued ones whose time has come, and running ones whose lease
 * expired (their worker died). Each becomes running, leased until now + leaseMs, attempts + 1, dirty cleared (this
 * run reads the current state). Oldest due first. On PostgreSQL concurrent claimers get disjoint jobs.
 */
export async function claim(db: Db, options: { workerId: string; now: Date; leaseMs: number; limit: number; maxAttempts?: number }): Promise<Job[]> {
  const now = toDbTime(options.now);
  const maxAttempts = options.maxAttempts ?? DEFAULT_RETRY_POLICY.maxAttempts;
  return writeTransaction(db, async (trx) => {
    // A job whose lease ran out on every attempt (its worker crashed, was killed, or hung each time it ran it)
    // would otherwise be taken up again forever: with its attempts spent it goes to the failed list instead.
    await trx('jobs')
      .where({ status: 'running' })
      .andWhere('locked_until', '<=', now)
      .andWhere('attempts', '>=', maxAttempts)
      .update({
        status: 'failed',
        locked_by: null,
        locked_until: null,
        dirty: false,
        last_error_code: 'ERR_JOB_ABANDONED',
        last_error: `its worker stopped before finishing it on each of ${maxAttempts} attempts (crash, kill, or a run longer than the lease)`,
        updated_at: now,
      });
    const due = await trx('jobs')
      .select('id')
      .where((q) => q.where({ status: 'queued' }).andWhere('next_attempt_at', '<=', now))
      .orWhere((q) => q.where({ status: 'running' }).andWhere('locked_until', '<=', now))
      .orderBy([{ column: 'next_attempt_at' }, { column: 'id' }])
      .limit(options.limit)
      .modify(lockRows(trx, { skipLocked: true }));
    const ids = due.map((r: { id: unknown }) => toId(r.id));
    if (ids.length === 0) return [];
    await trx('jobs')
      .whereIn('id', ids)
      .update({
        status: 'running',
        locked_by: options.workerId,
        locked_until: dbTimeAfter(options.now, options.leaseMs),
        attempts: trx.raw('attempts + 1'),
        dirty: false,
        updated_at: now,
      });
    const rows = await trx('jobs').select('*').whereIn('id', ids).orderBy([{ column: 'next_attempt_at' }, { column: 'id' }]);
    return rows.map(fromRow);
  });
}

/**
 * Ends a run well: succeeded, or queued again (attempts 0, due now) when it was re-enqueued meanwhile.
 * Only the worker holding the job may end it: returns the new status, or undefined when `workerId` no longer
 * holds it (its lease expired and another worker took it).
 */
export async function complete(db: Db, id: number, workerId: string, options: { now?: Date } = {}): Promise<JobStatus | undefined> {
  const now = toDbTime(options.now ?? new Date());
  // One statement, so an enqueue meets either the running row (and sets dirty, seen here) or the ended one.
  // `dirty` is a boolean on pg and 0/1 on SQLite: both are truth values in CASE WHEN.
  const rows = await db('jobs')
    .where({ id, status: 'running', locked_by: workerId })
    .update({
      status: db.raw("CASE WHEN dirty THEN 'queued' ELSE 'succeeded' END"),
      attempts: db.raw('CASE WHEN dirty THEN 0 ELSE attempts END'),
      next_attempt_at: db.raw('CASE WHEN dirty THEN ? ELSE next_attempt_at END', [now]),
      dirty: false,
      locked_by: null,
      locked_until: null,
      last_error_code: null,
      last_error: null,
      updated_at: now,
    })
    .returning(['status']);
  const row = (rows as { status: JobStatus }[])[0];
  return row?.status;
}

/**
 * Ends a run badly. permanent, or the budget spent → failed (but queued afresh, due now, when the key was
 * re-enqueued during the run: the new input may cure it); else queued again after the backoff (see
 * retry-schedule.ts), Retry-After as a floor — a re-enqueue during the run does not shorten that wait (the retry
 * reads the current state anyway). Same lease rule and result as `complete`. The row is locked while deciding,
 * so a concurrent enqueue's dirty flag is never lost.
 */
export async function fail(db: Db, id: number, workerId: string, failure: JobFailure): Promise<JobStatus | undefined> {
  const now = toDbTime(failure.now);
  return writeTransaction(db, async (trx) => {
    const row = await trx('jobs')
      .select('attempts', 'dirty')
      .where({ id, status: 'running', locked_by: workerId })
      .modify(lockRows(trx))
      .first();
    if (row === undefined) return undefined;
    const decision = nextRetry({
      attempts: Number(row.attempts),
      errorClass: failure.class,
      retryAfterMs: failure.retryAfterMs,
      now: failure.now,
      random: failure.random ?? Math.random,
      policy: failure.policy ?? DEFAULT_RETRY_POLICY,
    });
    const again = decision.kind === 'fail' && toBool(row.dirty);
    const next: Record<string, unknown> =
      decision.kind === 'retry'
        ? { status: 'queued', next_attempt_at: toDbTime(decision.at) }
        : again
          ? { status: 'queued', attempts: 0, next_attempt_at: now }
          : { status: 'failed' };
    await trx('jobs')
      .where({ id })
      .update({ ...next, dirty: false, locked_by: null, locked_until: null, last_error_code: failure.code, last_error: oneLine(failure.message), updated_at: now });
    return next.status as JobStatus;
  });
}

export async function getJob(db: Db, query: { id: number } | { key: string }): Promise<Job | undefined> {
  const row = await db('jobs').select('*').where('id' in query ? { id: query.id } : { key: query.key }).first();
  return row === undefined ? undefined : fromRow(row);
}

/** Failed jobs, most recently failed first (the support queue). */
export async function listFailed(db: Db, page: { limit: number; offset?: number }): Promise<Job[]> {
  const rows = await db('jobs').select('*').where({ status: 'failed' }).orderBy([{ column: 'updated_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(page.limit).offset(page.offset ?? 0);
  return rows.map(fromRow);
}

/** Replay: enqueues the keys of these jobs (or of every failed job) again, with `enqueue`'s rules. Returns the keys. */
export async function requeue(db: Db, which: readonly number[] | { allFailed: true }, options: { now: Date }): Promise<string[]> {
  const query = db('jobs').select('key');
  if ('allFailed' in which) query.where({ status: 'failed' });
  else if (which.length === 0) return [];
  else query.whereIn('id', [...which]);
  const keys = ((await query) as { key: string }[]).map((r) => r.key);
  await enqueue(db, keys, { now: options.now });
  return distinctSorted(keys);
}

/** Jobs per status (idle detection, metrics). */
export async function counts(db: Db): Promise<JobCounts> {
  const out: JobCounts = { queued: 0, running: 0, succeeded: 0, failed: 0 };
  const rows = await db('jobs').select('status').count({ n: '*' }).groupBy('status');
  for (const row of rows as { status: string; n: unknown }[]) {
    if ((JOB_STATUSES as readonly string[]).includes(row.status)) out[row.status as JobStatus] = toCount(row.n);
  }
  return out;
}

/** When the next job becomes claimable (a queued job's time, a running job's lease end), or undefined when none. */
export async function nextDueAt(db: Db): Promise<string | undefined> {
  const queued = await db('jobs').where({ status: 'queued' }).min({ at: 'next_attempt_at' }).first();
  const running = await db('jobs').where({ status: 'running' }).min({ at: 'locked_until' }).first();
  const times = [optionalText(queued?.at), optionalText(running?.at)].filter((t): t is string => t !== undefined).sort();
  return times[0];
}

function fromRow(row: Record<string, unknown>): Job {
  return {
    id: toId(row.id),
    key: String(row.key),
    kind: row.kind as JobKind,
    status: row.status as JobStatus,
    attempts: Number(row.attempts),
    nextAttemptAt: String(row.next_attempt_at),
    lastErrorCode: optionalText(row.last_error_code),
    lastError: optionalText(row.last_error),
    lockedBy: optionalText(row.locked_by),
    lockedUntil: optionalText(row.locked_until),
    dirty: toBool(row.dirty),
    createdAt: String(row.created_at),
    updatedAt: String(row.updated_at),
    triggerInboxId: toOptionalId(row.trigger_inbox_id),
  };
}
