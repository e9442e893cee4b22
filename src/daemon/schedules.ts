import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../log';

/** One cron schedule of the daemon (config `schedules`): it only queues work or wakes the workers. */
export interface ScheduleSpec {
  /** Short name for log lines: `retry-sweep`, `portal-changes`, `daily-reevaluation`. */
  readonly name: string;
  readonly expression: string;
  run(): Promise<void>;
}

export interface RunningSchedules {
  /** Runs a schedule now, as a tick would (tests; the same overlap rule applies). */
  runNow(name: string): Promise<void>;
  /**
   * Stops every schedule: no new tick starts, ticks in flight may finish until `deadline` (epoch ms), then the
   * tasks are destroyed (node-cron's destroy neither waits for nor cancels a running tick). Resolves to whether
   * every tick finished in time.
   */
  stop(deadline: number): Promise<boolean>;
}

/**
 * Starts the schedules with node-cron in the practice's time zone, no overlap (a tick still running when the
 * next is due makes that one skip). A failing tick is logged here and never reaches node-cron, whose own
 * messages (missed or overlapping ticks) go to our logger too, not to the console.
 */
export function startSchedules(specs: readonly ScheduleSpec[], options: { timeZone: string; log: Logger }): RunningSchedules {
  const { log } = options;
  const inFlight = new Set<Promise<void>>();
  const busy = new Set<string>();
  let stopped = false;

  const tick = async (spec: ScheduleSpec): Promise<void> => {
    if (stopped || busy.has(spec.name)) return;
    busy.add(spec.name);
    const run = spec.run().catch((e: unknown) => log.error('schedule failed', { schedule: spec.name, err: e }));
    inFlight.add(run);
    try {
      await run;
    } finally {
      inFlight.delete(run);
      busy.delete(spec.name);
    }
  };

  const tasks = new Map<string, ScheduledTask>();
  for (const spec of specs) {
    const cronLog = {
      info: (m: string) => log.debug('schedule note', { schedule: spec.name, note: m }),
      warn: (m: string) => log.warn('schedule note', { schedule: spec.name, note: m }),
      error: (m: string | Error, err?: Error) => log.error('schedule error', { schedule: spec.name, err: m instanceof Error ? m : err }),
      debug: (m: string | Error) => log.debug('schedule note', { schedule: spec.name, note: m instanceof Error ? m.name : m }),
    };
    const task = cron.schedule(spec.expression, () => tick(spec), { name: `portal-bridge:${spec.name}`, noOverlap: true, timezone: options.timeZone, logger: cronLog });
    task.on('execution:overlap', () => log.warn('schedule still busy: tick skipped', { schedule: spec.name }));
    tasks.set(spec.name, task);
  }

  return {
    async runNow(name) {
      const spec = specs.find((s) => s.name === name);
      if (spec === undefined) throw new Error(`no schedule named ${name}`);
      await tick(spec);
    },
    async stop(deadline) {
      stopped = true;
      for (const task of tasks.values()) await task.stop();
      const finished = await settledBy([...inFlight], deadline);
      for (const task of tasks.values()) await task.destroy();
      tasks.clear();
      return finished;
    },
  };
}

/** Waits for `promises` until `deadline` (epoch ms); true when all settled in time. */
export async function settledBy(promises: readonly Promise<unknown>[], deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([Promise.allSettled(promises).then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
