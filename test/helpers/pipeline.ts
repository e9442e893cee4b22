import { parseHl7 } from '../../src/core/hl7/message';
import { loadMapping } from '../../src/core/mapping/load';
import type { Mapping } from '../../src/core/mapping/types';
import { ingestBatch, type IngestDeps } from '../../src/ingest/ingest-worker';
import { createLogger, type Logger } from '../../src/log';
import { createRefs } from '../../src/refs';
import type { PortalClient } from '../../src/portal/port';
import { createRestPortalClient } from '../../src/portal/rest';
import { sandboxControl, startSandboxPortal, type SandboxControl } from '../../src/portal/sandbox';
import { runDueJobs } from '../../src/reconcile/job-runner';
import type { ReconcileDeps } from '../../src/reconcile/reconcile-guardian';
import type { UnlinkGuard } from '../../src/reconcile/unlink-guard';
import type { Store } from '../../src/store';
import type { RetryPolicy } from '../../src/store/retry-schedule';
import { bundledMappingText } from './mappings';
import { PassThrough } from 'node:stream';

/** A store, a real sandbox portal over HTTP, the REST client and a clock the test moves: the whole pipeline. */
export interface Pipeline {
  readonly control: SandboxControl;
  readonly reconcile: ReconcileDeps;
  readonly ingest: IngestDeps;
  /** Every log line written so far. */
  readonly logLines: string[];
  /** Stores HL7 messages in the inbox as a connector would (source `test`, dedupe by MSH-10). */
  feed(messages: readonly string[]): Promise<void>;
  /** Moves the test clock (e.g. a year on, for age-outs). */
  setClock(at: Date): void;
  /** Ingests and runs jobs until nothing is left, moving the clock to each retry's due time. */
  drain(maxRounds?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startPipeline(
  store: Store,
  options: { mapping?: Mapping; start?: Date; retry?: RetryPolicy; portalTimeoutMs?: number; guard?: UnlinkGuard; wrapPortal?: (portal: PortalClient) => PortalClient } = {},
): Promise<Pipeline> {
  const sandbox = await startSandboxPortal({ port: 0 });
  const control = sandboxControl(sandbox.url);
  const rest = createRestPortalClient({ baseUrl: sandbox.url, timeoutMs: options.portalTimeoutMs ?? 5_000 });
  const portal = options.wrapPortal?.(rest) ?? rest;
  const loaded = loadMapping(bundledMappingText('hl7v2'), 'hl7v2-default.yaml');
  if (!loaded.ok) throw new Error('default mapping does not load');
  const mapping = options.mapping ?? loaded.mapping;
  let clock = options.start ?? new Date('2026-01-15T15:00:00Z');
  const now = (): Date => clock;
  const logLines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => logLines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== '')));
  const log: Logger = createLogger({ level: 'debug', stream });
  const reconcile: ReconcileDeps = { store, portal, policy: mapping.policy, practice: 'test-practice', invitation: { channel: 'email', method: 'link' }, now, log, refs: createRefs('test-ref-key'), ...(options.guard !== undefined && { guard: options.guard }) };
  const ingest: IngestDeps = { store, mappings: { [mapping.format]: mapping }, policy: mapping.policy, now, log };
  let seq = 0;
  return {
    control,
    reconcile,
    ingest,
    logLines,
    async feed(messages) {
      await store.inbox.acceptInbox(
        messages.map((raw) => ({ source: 'test', dedupeKey: parseHl7(raw).controlId || `m${++seq}`, format: 'hl7v2' as const, raw })),
        { now: clock },
      );
    },
    setClock(at) {
      clock = at;
    },
    async drain(maxRounds = 200) {
      for (let round = 0; round < maxRounds; round++) {
        const ingested = await ingestBatch(ingest, 100);
        const ran = await runDueJobs(reconcile, { workerId: 'test-worker', leaseMs: 60_000, batch: 50, random: () => 0.5, ...(options.retry !== undefined && { retry: options.retry }) });
        if (ingested + ran > 0) continue;
        const due = await store.jobs.nextDueAt();
        if (due === undefined) return;
        clock = new Date(Math.max(clock.getTime() + 1, Date.parse(due)));
      }
      throw new Error(`the pipeline did not settle in ${maxRounds} rounds`);
    },
    async close() {
      stream.end();
      await sandbox.close();
    },
  };
}
