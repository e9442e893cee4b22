/** How the daemon paces itself. Not configuration a practice tunes: tests and the demo shorten them. */
export interface DaemonTiming {
  /** How often an idle ingest loop looks for new inbox rows (connectors in other processes write them). */
  readonly inboxPollMs: number;
  /** Longest sleep of an idle job worker (it wakes sooner for new work, a due retry or a schedule tick). */
  readonly workerIdleMs: number;
  /** Shortest sleep of a job worker that found nothing to claim although a job is due (another daemon has it). */
  readonly workerMinWaitMs: number;
  /** Longest wait after repeated loop failures (e.g. the database is down). */
  readonly maxErrorDelayMs: number;
  /** On SIGTERM: how long in-flight work may take to finish before the store is closed anyway. */
  readonly shutdownGraceMs: number;
  /**
   * Inbox rows per ingest batch. Small: on SQLite a batch runs without yielding to the event loop (the driver
   * is synchronous), and the job workers' portal answers wait for the batch to end.
   */
  readonly ingestBatch: number;
}

export const DEFAULT_TIMING: DaemonTiming = Object.freeze({
  inboxPollMs: 200,
  workerIdleMs: 1_000,
  workerMinWaitMs: 50,
  maxErrorDelayMs: 30_000,
  shutdownGraceMs: 15_000,
  ingestBatch: 10,
});
