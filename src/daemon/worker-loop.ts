import { runDueJobs, type JobRunnerOptions } from '../reconcile/job-runner';
import type { ReconcileDeps } from '../reconcile/reconcile-guardian';
import type { DaemonTiming } from './timing';

/**
 * One step of a job worker: claim one due job and reconcile its key (DESIGN §6). One job per claim, so N
 * workers really run N keys at once. With nothing due it sleeps until the next job becomes claimable (a
 * retry's time, an expired lease), at most `workerIdleMs`; new work and schedule ticks wake it sooner.
 */
export function workerStep(
  deps: ReconcileDeps,
  runner: Omit<JobRunnerOptions, 'batch'>,
  timing: Pick<DaemonTiming, 'workerIdleMs' | 'workerMinWaitMs'>,
): () => Promise<number> {
  return async () => {
    if ((await runDueJobs(deps, { ...runner, batch: 1 })) > 0) return 0;
    const due = await deps.store.jobs.nextDueAt();
    if (due === undefined) return timing.workerIdleMs;
    const untilDue = Date.parse(due) - deps.now().getTime();
    return Math.min(timing.workerIdleMs, Math.max(timing.workerMinWaitMs, untilDue));
  };
}
