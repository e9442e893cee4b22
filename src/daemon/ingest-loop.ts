import { ingestBatch, type IngestDeps } from '../ingest/ingest-worker';
import type { DaemonTiming } from './timing';

/**
 * One step of the ingest loop: map a batch of received inbox rows (DESIGN §2). After a batch it goes again at
 * once and wakes the job workers (the batch queued reconcile jobs); with nothing received it waits
 * `inboxPollMs` — connectors in other processes write the inbox, so the database is polled, never spun on.
 */
export function ingestStep(deps: IngestDeps, timing: Pick<DaemonTiming, 'inboxPollMs' | 'ingestBatch'>, wakeWorkers: () => void): () => Promise<number> {
  return async () => {
    const processed = await ingestBatch(deps, timing.ingestBatch);
    if (processed === 0) return timing.inboxPollMs;
    wakeWorkers();
    return 0;
  };
}
