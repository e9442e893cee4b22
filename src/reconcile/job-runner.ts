import { isBridgeError } from '../errors';
import type { StoreOps } from '../store';
import type { Job } from '../store/jobs';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../store/retry-schedule';
import { reconcileGuardian, type ReconcileDeps } from './reconcile-guardian';

export interface JobRunnerOptions {
  readonly workerId: string;
  /** How long a claimed job stays ours; a crashed worker's jobs are reclaimed after it. */
  readonly leaseMs: number;
  /** Jobs claimed per round. */
  readonly batch: number;
  readonly retry?: RetryPolicy;
  /** Jitter source in [0, 1) (tests pass a fixed one). */
  readonly random?: () => number;
}

/**
 * Claims the jobs that are due and reconciles each key (DESIGN §6): success → complete (or queued again when new
 * input arrived meanwhile); a BridgeError → fail with its class (transient: backoff with jitter, honouring
 * Retry-After; ambiguous: retried with the same idempotency keys; permanent: failed at once). An error that is
 * not a BridgeError is a bug: failed at once, with its name only (its message might hold data). Returns the
 * number of jobs run.
 */
export async function runDueJobs(deps: ReconcileDeps, options: JobRunnerOptions): Promise<number> {
  const jobs = await deps.store.jobs.claim({ workerId: options.workerId, now: deps.now(), leaseMs: options.leaseMs, limit: options.batch, maxAttempts: (options.retry ?? DEFAULT_RETRY_POLICY).maxAttempts });
  for (const job of jobs) await runJob(deps, options, job);
  return jobs.length;
}

async function runJob(parent: ReconcileDeps, options: JobRunnerOptions, job: Job): Promise<void> {
  // Every line of this job carries its id and the guardian's keyed ref (STYLE rule 8), never the key itself.
  const log = parent.log.child({ jobId: job.id, ...(parent.refs !== undefined && { guardianRef: parent.refs.guardian(job.key) }) });
  const deps: ReconcileDeps = { ...parent, log };
  const { store } = deps;
  try {
    // The job completes in the run's last transaction: one commit fewer per job.
    const finish = async (tx: StoreOps): Promise<void> => {
      await tx.jobs.complete(job.id, options.workerId, { now: deps.now() });
    };
    const outcome = await reconcileGuardian(deps, job.key, { jobId: job.id, ...(job.triggerInboxId !== undefined && { inboxId: job.triggerInboxId }), finish });
    if (outcome.handedOverTo !== undefined) log.info('guardian re-keyed', { toRef: parent.refs?.guardian(outcome.handedOverTo) ?? '' });
  } catch (e) {
    const failure = isBridgeError(e)
      ? { code: e.code, message: e.message, class: e.errorClass, ...(e.retryAfterMs !== undefined && { retryAfterMs: e.retryAfterMs }) }
      : { code: 'ERR_INTERNAL' as const, message: `unexpected ${e instanceof Error ? e.name : 'error'} while reconciling`, class: 'permanent' as const };
    const status = await store.jobs.fail(job.id, options.workerId, {
      ...failure,
      now: deps.now(),
      ...(options.random !== undefined && { random: options.random }),
      ...(options.retry !== undefined && { policy: options.retry }),
    });
    const fields = { code: failure.code, errorClass: failure.class, attempts: job.attempts, status };
    if (status === 'failed') log.error('job failed', fields);
    else log.warn('job will be retried', fields);
    if (!isBridgeError(e)) log.error('reconcile crashed', { err: e });
  }
}
