/**
 * The composition root (STYLE layout): the only place adapters are constructed — the store, the portal client,
 * the logger — and wired to the daemon's loops and schedules (src/daemon/). `portal-bridge start` runs it in its
 * own process; `portal-bridge demo` runs the same thing in-process against a sandbox portal.
 */
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startConnectors, type RunningConnector } from '../connectors/registry';
import { configWarnings } from './config/describe';
import type { Config } from './config/schema';
import type { Mapping } from './core/mapping/types';
import { ingestStep } from './daemon/ingest-loop';
import { runLoop } from './daemon/loop';
import { settledBy, startSchedules, type ScheduleSpec } from './daemon/schedules';
import { DEFAULT_TIMING, type DaemonTiming } from './daemon/timing';
import { WakeSignal } from './daemon/wake-signal';
import { workerStep } from './daemon/worker-loop';
import type { IngestDeps } from './ingest/ingest-worker';
import type { Mappings } from './ingest/translate-input';
import { createLogger, type Logger } from './log';
import type { PortalClient } from './portal/port';
import { createRestPortalClient } from './portal/rest';
import { pollPortalChanges } from './reconcile/portal-changes';
import type { ReconcileDeps } from './reconcile/reconcile-guardian';
import { enqueueReevaluation } from './reconcile/reevaluate';
import { createRefs, type Refs } from './refs';
import { openStore, type Store } from './store';

export type { DaemonTiming } from './daemon/timing';

export interface DaemonOptions {
  /** The validated configuration (loadConfig). */
  readonly config: Config;
  /** The mapping at `config.mapping.path`, validated; its policy decides and its time zone runs the schedules. */
  readonly mapping: Mapping;
  /** Mappings of the other input formats (`mapping.others`), with the same policy. */
  readonly otherMappings?: readonly Mapping[];
  /** Where the JSON log lines go; stdout by default. */
  readonly logStream?: NodeJS.WritableStream;
  /** The clock; the real one by default (the demo runs on the example cases' date). */
  readonly now?: () => Date;
  readonly timing?: Partial<DaemonTiming>;
}

/** A running daemon. */
export interface Daemon {
  readonly store: Store;
  readonly log: Logger;
  /** Keyed hashes for people in logs (config `log.refKey`). */
  readonly refs: Refs;
  /** `<host>:<pid>:<n>`, one per job worker (config `jobs.concurrency`). */
  readonly workerIds: readonly string[];
  /** The connectors of `config.connectors`, started. */
  readonly connectors: readonly RunningConnector[];
  /** Wakes the ingest loop and the workers now (after writing the inbox in this process). */
  wake(): void;
  /** True when no inbox row waits to be ingested and no job is queued or running. */
  isIdle(): Promise<boolean>;
  /** Runs a schedule (`retry-sweep`, `portal-changes`, `daily-reevaluation`, `retention-prune`) now, as its cron tick would. */
  runSchedule(name: string): Promise<void>;
  /**
   * Graceful stop: stops intake (no new inbox batch, no new job claim, no new tick), lets in-flight work finish
   * within `shutdownGraceMs`, destroys the cron tasks and closes the store. Work cut off by the grace period is
   * safe: its inbox rows stay `received`, its jobs are claimed again when their lease ends. Idempotent.
   */
  stop(reason: string): Promise<{ readonly drained: boolean }>;
}

/**
 * Opens the configured store (SQLite file, creating its folder; or PostgreSQL). Not migrated. `acceptInWorker`:
 * connectors' inbox commits on a SQLite file run on a writer thread (StoreOptions.acceptInWorker).
 */
export async function openConfiguredStore(config: Config, options: { poolMax?: number; acceptInWorker?: boolean } = {}): Promise<Store> {
  const { database } = config;
  if (database.url !== undefined) return openStore({ url: database.url, ...(options.poolMax !== undefined && { poolMax: options.poolMax }) });
  if (database.file !== ':memory:') mkdirSync(path.dirname(path.resolve(database.file)), { recursive: true });
  return openStore({ file: database.file, synchronous: database.synchronous, ...(options.acceptInWorker === true && { acceptInWorker: true }) });
}

/** The configured portal: `rest` (base URL + bearer token) or `sandbox` (a sandbox portal the user runs). */
export function createConfiguredPortal(config: Config): PortalClient {
  const { portal } = config;
  return createRestPortalClient({
    baseUrl: portal.baseUrl,
    timeoutMs: portal.timeoutMs,
    ...(portal.apiToken !== undefined && { headers: { authorization: `Bearer ${portal.apiToken}` } }),
  });
}

/** Opens and migrates the store, builds the portal client, starts the loops and schedules. */
export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const { config, mapping } = options;
  const mappings: Mappings = Object.fromEntries([mapping, ...(options.otherMappings ?? [])].map((m) => [m.format, m]));
  const timing: DaemonTiming = { ...DEFAULT_TIMING, ...options.timing };
  const now = options.now ?? (() => new Date());
  const log = createLogger({ level: config.log.level, base: { service: 'portal-bridge' }, ...(options.logStream !== undefined && { stream: options.logStream }) });
  const refs = createRefs(config.log.refKey);
  for (const warning of configWarnings(config)) log.warn('configuration warning', { warning });

  // The daemon's connectors answer only after their commit: on SQLite the commit's fsync runs on a writer thread.
  const store = await openConfiguredStore(config, { poolMax: Math.max(10, config.jobs.concurrency + 4), acceptInWorker: true });
  try {
    const applied = await store.migrate();
    if (applied.length > 0) log.info('store migrated', { applied });
  } catch (e) {
    await store.close();
    throw e;
  }
  let stopping = false;
  const isStopping = (): boolean => stopping;
  const inboxSignal = new WakeSignal();
  const workSignal = new WakeSignal();

  let connectors: RunningConnector[];
  try {
    connectors = await startConnectors(config.connectors, {
      store,
      mappings,
      log: log.child({ loop: 'connector' }),
      now,
      onStored: () => inboxSignal.wake(),
      secrets: config.connectorSecrets,
    });
  } catch (e) {
    await store.close();
    throw e;
  }
  const portal = createConfiguredPortal(config);
  const policy = mapping.policy;
  const ingestDeps: IngestDeps = { store, mappings, policy, now, log: log.child({ loop: 'ingest' }) };
  const reconcileDeps: ReconcileDeps = { store, portal, policy, practice: config.practice.id, invitation: { channel: 'email', method: 'link' }, now, log, guard: config.guards, refs };
  const retry = { ...config.jobs.backoff, maxAttempts: config.jobs.maxAttempts };

  const loopOptions = { isStopping, log, maxErrorDelayMs: timing.maxErrorDelayMs };
  const workerIds = Array.from({ length: config.jobs.concurrency }, (_, n) => `${os.hostname()}:${process.pid}:${n + 1}`);

  const loops = [
    runLoop(ingestStep(ingestDeps, timing, () => workSignal.wake()), { ...loopOptions, name: 'ingest', signal: inboxSignal }),
    ...workerIds.map((workerId, n) =>
      runLoop(workerStep({ ...reconcileDeps, log: log.child({ worker: n + 1 }) }, { workerId, leaseMs: config.jobs.leaseMs, retry }, timing), {
        ...loopOptions,
        name: 'worker',
        signal: workSignal,
      }),
    ),
  ];

  const specs: ScheduleSpec[] = [
    { name: 'retry-sweep', expression: config.schedules.retrySweep, run: async () => workSignal.wake() },
    {
      name: 'portal-changes',
      expression: config.schedules.portalChangesPoll,
      run: async () => {
        if ((await pollPortalChanges({ store, portal, now, log })) > 0) workSignal.wake();
      },
    },
    {
      name: 'daily-reevaluation',
      expression: config.schedules.dailyReevaluation,
      run: async () => {
        const queued = await enqueueReevaluation({ store, policy, now });
        log.info('daily re-evaluation queued', { guardians: queued });
        workSignal.wake();
      },
    },
    {
      name: 'retention-prune',
      expression: config.schedules.retentionPrune,
      run: async () => {
        const olderThan = new Date(now().getTime() - config.retention.processedInboxDays * 86_400_000);
        const pruned = await store.inbox.pruneProcessed({ olderThan });
        log.info('processed inbox rows pruned', { rows: pruned, olderThanDays: config.retention.processedInboxDays });
      },
    },
  ];
  const schedules = startSchedules(specs, { timeZone: policy.timeZone, log });

  log.info('daemon started', {
    database: store.dialect,
    portal: config.portal.kind,
    mapping: mapping.name,
    practice: config.practice.id,
    workers: workerIds.length,
    timeZone: policy.timeZone,
    connectors: connectors.map((c) => ({ name: c.name, kind: c.kind, address: c.address })),
  });

  let stopped: Promise<{ drained: boolean }> | undefined;
  const stop = async (reason: string): Promise<{ drained: boolean }> => {
    log.info('daemon stopping', { reason });
    // Intake first: each connector stores (and answers) what it has already read, then takes nothing more.
    await Promise.allSettled(connectors.map((c) => c.close()));
    stopping = true;
    inboxSignal.close();
    workSignal.close();
    const deadline = Date.now() + timing.shutdownGraceMs;
    const loopsDone = await settledBy(loops, deadline);
    const ticksDone = await schedules.stop(deadline);
    const drained = loopsDone && ticksDone;
    if (!drained) log.warn('in-flight work cut off at shutdown: it runs again after restart', { graceMs: timing.shutdownGraceMs });
    await store.close();
    log.info('daemon stopped', { drained });
    return { drained };
  };

  return {
    store,
    log,
    refs,
    workerIds,
    connectors,
    wake() {
      inboxSignal.wake();
      workSignal.wake();
    },
    async isIdle() {
      // The inbox first, then the jobs: ingest enqueues a row's jobs in the transaction that marks it processed, so
      // no unprocessed row before means its jobs are visible after. The other order could read no jobs, then see
      // the last rows processed meanwhile, and call idle a queue that just received their jobs.
      if ((await store.inbox.nextUnprocessed(1)).length > 0) return false;
      const counts = await store.jobs.counts();
      return counts.queued + counts.running === 0;
    },
    runSchedule: (name) => schedules.runNow(name),
    stop(reason) {
      stopped ??= stop(reason);
      return stopped;
    },
  };
}
