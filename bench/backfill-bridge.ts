/**
 * The measured process of bench/backfill (forked by backfill.ts; not meant to be run by hand): the bridge alone —
 * backfill ($export → inbox), the daemon's ingest loop and N job-worker loops (src/daemon, DEFAULT_TIMING, the
 * config's default lease and retry policy), the REST portal client over HTTP to the sandbox portal in another
 * process, the real logger (level info) writing to a sink that only counts lines. One engine, one size, one mode
 * per process, so process.resourceUsage().maxRSS is that run's peak.
 *
 * The orchestrator sends one BridgeRequest; this process answers one BridgeResult (or an error) and exits.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { runBackfill } from '../connectors/fhir/backfill';
import { createFhirHttp } from '../connectors/fhir/fhir-http';
import { loadMapping } from '../src/core/mapping/load';
import { ingestStep } from '../src/daemon/ingest-loop';
import { runLoop } from '../src/daemon/loop';
import { DEFAULT_TIMING } from '../src/daemon/timing';
import { WakeSignal } from '../src/daemon/wake-signal';
import { workerStep } from '../src/daemon/worker-loop';
import type { IngestDeps } from '../src/ingest/ingest-worker';
import { createLogger, type Logger } from '../src/log';
import { createRestPortalClient } from '../src/portal/rest';
import type { ReconcileDeps } from '../src/reconcile/reconcile-guardian';
import { createRefs } from '../src/refs';
import { DEFAULT_RETRY_POLICY, openStore, type Store } from '../src/store';
import type { BridgeMessage, BridgeRequest, BridgeResult, Check, PhaseFigure } from './backfill-protocol';
import { CallTimings } from './call-timings';
import { countingSink } from './support';

/** config/default.yaml `jobs.leaseMs`. */
const LEASE_MS = 60_000;
/** How often the bench looks whether a stretch is over (two indexed one-row queries). */
const WATCH_MS = 100;
const root = path.resolve(__dirname, '..', '..');

const send = (m: BridgeMessage): void => {
  process.send?.(m);
};

/** Counts log lines by level and message, parsing each JSON line as the real logger wrote it (as bench/reconcile). */
async function openEngine(request: BridgeRequest, dir: string): Promise<{ store: Store; where: string; drop: () => Promise<void> }> {
  if (request.engine === 'sqlite') {
    const store = await openStore({ file: path.join(dir, 'store.db'), synchronous: 'FULL' });
    return { store, where: 'SQLite temp file, WAL, synchronous FULL', drop: async () => {} };
  }
  const schema = `bench_${randomBytes(6).toString('hex')}`;
  const store = await openStore({ url: request.pgUrl, schema, poolMax: Math.max(10, request.loops + 4) });
  return {
    store,
    where: `PostgreSQL ${request.pgUrl.replace(/\/\/([^:@/]+):[^@/]*@/u, '//$1:***@')}, schema ${schema} (dropped afterwards)`,
    drop: async () => {
      await store.knex.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
    },
  };
}

async function countRows(store: Store, table: string, where: Record<string, string> = {}): Promise<number> {
  const row = (await store.knex(table).where(where).count({ n: '*' }).first()) as { n: unknown } | undefined;
  return Number(row?.n ?? 0);
}

/** Waits for a state, looking every WATCH_MS. */
async function until(state: () => Promise<boolean>): Promise<void> {
  while (!(await state())) await delay(WATCH_MS);
}

/** Rows handed to the ingest worker and jobs completed, for the progress line (no query of its own). */
function counted(store: Store, tally: { ingested: number; jobs: number }): Store {
  return {
    ...store,
    inbox: {
      ...store.inbox,
      nextUnprocessed: async (limit) => {
        const rows = await store.inbox.nextUnprocessed(limit);
        tally.ingested += rows.length;
        return rows;
      },
    },
    jobs: {
      ...store.jobs,
      complete: async (...args) => {
        const status = await store.jobs.complete(...args);
        tally.jobs += 1;
        return status;
      },
    },
  };
}

/** A group of daemon loops (src/daemon/loop.ts) that can be stopped on its own. */
function startLoops(steps: readonly (() => Promise<number>)[], name: string, signal: WakeSignal, log: Logger): { stop: () => Promise<void> } {
  let stopping = false;
  const running = steps.map((step) => runLoop(step, { name, signal, isStopping: () => stopping, log, maxErrorDelayMs: DEFAULT_TIMING.maxErrorDelayMs }));
  return {
    async stop() {
      stopping = true;
      signal.wake();
      await Promise.all(running);
    },
  };
}

async function run(request: BridgeRequest): Promise<BridgeResult> {
  const loaded = loadMapping(readFileSync(path.join(root, 'mappings', 'fhir-default.yaml'), 'utf8'), 'fhir-default.yaml');
  if (!loaded.ok) throw new Error('the default FHIR mapping does not load');
  const mapping = loaded.mapping;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pb-bench-backfill-'));
  const { store: rawStore, where, drop } = await openEngine(request, dir);
  try {
    await rawStore.migrate();
    const sink = countingSink();
    const log = createLogger({ level: 'info', base: { service: 'portal-bridge' }, stream: sink.stream });
    const timings = new CallTimings();
    const tally = { stored: 0, ingested: 0, jobs: 0 };
    const store = timings.wrapStore(counted(rawStore, tally));
    const portal = timings.wrap('portal', createRestPortalClient({ baseUrl: request.sandboxUrl, timeoutMs: 30_000 }));
    const http = createFhirHttp({ baseUrl: request.fhirBaseUrl, log: log.child({ connector: 'fhir-backfill' }) });
    const now = (): Date => new Date();
    const ingestDeps: IngestDeps = { store, mappings: { fhir: mapping }, policy: mapping.policy, now, log: log.child({ loop: 'ingest' }) };
    const reconcileDeps: ReconcileDeps = {
      store, portal, policy: mapping.policy, practice: 'bench-practice', invitation: { channel: 'email', method: 'link' }, now, log, refs: createRefs('bench-ref-key'),
    };
    const inboxSignal = new WakeSignal();
    const workSignal = new WakeSignal();
    const ingestLoop = [ingestStep(ingestDeps, DEFAULT_TIMING, () => workSignal.wake())];
    const workerLoops = Array.from({ length: request.loops }, (_, n) =>
      workerStep({ ...reconcileDeps, log: log.child({ worker: n + 1 }) }, { workerId: `bench:${process.pid}:${n + 1}`, leaseMs: LEASE_MS, retry: DEFAULT_RETRY_POLICY }, DEFAULT_TIMING),
    );

    const inboxDrained = async (): Promise<boolean> => (await rawStore.inbox.nextUnprocessed(1)).length === 0;
    const noJobLeft = async (): Promise<boolean> => (await rawStore.jobs.nextDueAt()) === undefined;

    const started = process.hrtime.bigint();
    const at = (): number => Number(process.hrtime.bigint() - started) / 1e9;
    let phase = 'export';
    const ticker = request.progress
      ? setInterval(() => send({ kind: 'progress', text: `${phase}, ${at().toFixed(0)} s: ${tally.stored.toLocaleString('en-US')} rows stored, ${tally.ingested.toLocaleString('en-US')} ingested, ${tally.jobs.toLocaleString('en-US')} jobs done` }), 2_000)
      : undefined;
    const phases: PhaseFigure[] = [];
    const phaseTimings: Record<string, string[]> = {};
    let lastEnd = 0;
    let cpu = process.cpuUsage();
    /** Closes the stretch that ends now; `detail` gets its seconds. */
    const mark = (name: string, detail: (seconds: number) => string): void => {
      const end = at();
      const used = process.cpuUsage(cpu);
      cpu = process.cpuUsage();
      phases.push({ name, seconds: end - lastEnd, atSeconds: end, cpuSeconds: (used.user + used.system) / 1e6, detail: detail(end - lastEnd) });
      lastEnd = end;
    };
    const closeTimings = (name: string): void => {
      phaseTimings[name] = timings.report('    ').slice(0, 14);
      timings.reset();
    };
    const perSecond = (n: number, seconds: number): string => Math.round(n / seconds).toLocaleString('en-US');
    const expectedRows = request.families.patients + request.families.relatedPersons;
    const guardians = 2 * request.families.families;
    const backfill = (): ReturnType<typeof runBackfill> =>
      runBackfill({
        name: 'ehr',
        http,
        store,
        log,
        resourceTypes: ['Patient', 'RelatedPerson'],
        onProgress: (p) => {
          tally.stored = p.stored;
          inboxSignal.wake();
        },
      });

    let stored: Awaited<ReturnType<typeof runBackfill>>;
    const running: { stop: () => Promise<void> }[] = [];
    const start = (steps: readonly (() => Promise<number>)[], name: string, signal: WakeSignal): void => {
      running.push(startLoops(steps, name, signal, log));
    };
    const stopAll = async (): Promise<void> => {
      await Promise.all(running.splice(0).map((r) => r.stop()));
    };
    try {
      if (request.mode === 'phases') {
        stored = await backfill();
        mark('export', (s) => `${perSecond(expectedRows, s)} resources/s, kick-off → every row in the inbox`);
        closeTimings('export');

        phase = 'ingest';
        start(ingestLoop, 'ingest', inboxSignal);
        await until(inboxDrained);
        await stopAll();
        mark('ingest', (s) => `${perSecond(expectedRows, s)} rows/s, the daemon's ingest loop (${DEFAULT_TIMING.ingestBatch} rows per batch)`);
        closeTimings('ingest');

        phase = 'reconcile';
        start(workerLoops, 'worker', workSignal);
        await until(noJobLeft);
        await stopAll();
        mark('reconcile', (s) => `${perSecond(guardians, s)} guardians/s, ${request.loops} job loops`);
        closeTimings('reconcile');
      } else {
        // As `portal-bridge start` runs: the loops take rows as the backfill stores them (it wakes the ingest loop).
        start(ingestLoop, 'ingest', inboxSignal);
        start(workerLoops, 'worker', workSignal);
        stored = await backfill();
        mark('export', (s) => `${perSecond(expectedRows, s)} resources/s, kick-off → every row in the inbox, the loops running alongside`);
        phase = 'catching up';
        await until(inboxDrained);
        mark('ingest', () => 'export done → every inbox row processed');
        await until(noJobLeft);
        await stopAll();
        mark('reconcile', () => 'inbox processed → no job left');
        closeTimings('daemon');
      }
    } finally {
      if (ticker !== undefined) clearInterval(ticker);
      await stopAll();
    }
    const totalSeconds = at();
    // Before the checks below read anything: the figure is the bridge's own.
    const peakRssMb = process.resourceUsage().maxRSS / 1024;

    const jobs = await rawStore.jobs.counts();
    const checks: Check[] = [
      ['backfill by $export (1) not paging (0)', stored.mode === 'export' ? 1 : 0, 1],
      ['resources stored by the backfill', stored.stored, expectedRows],
      ['duplicates + rejected by the backfill', stored.duplicate + stored.rejected, 0],
      ['inbox rows', await countRows(rawStore, 'inbox'), expectedRows],
      ['inbox rows accepted', await countRows(rawStore, 'inbox', { status: 'accepted' }), expectedRows],
      ['ledger accounts', await countRows(rawStore, 'accounts'), guardians],
      ['ledger links linked', await countRows(rawStore, 'links', { status: 'linked' }), request.families.relatedPersons],
      ['invitations sent', await countRows(rawStore, 'invitations', { status: 'sent' }), guardians],
      ['jobs failed / queued / running', jobs.failed + jobs.queued + jobs.running, 0],
    ];
    return {
      engine: request.engine,
      mode: request.mode,
      where,
      phases,
      totalSeconds,
      peakRssMb,
      checks,
      logLines: Object.fromEntries(sink.counts),
      timings: phaseTimings,
    };
  } finally {
    try {
      await drop();
    } finally {
      await rawStore.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

if (process.send === undefined) {
  console.error('backfill-bridge.js is forked by bench/backfill (it needs an IPC channel): npm run bench:backfill');
  process.exit(2);
}
process.once('message', (request: BridgeRequest) => {
  run(request)
    .then(
      (result) => send({ kind: 'result', result }),
      (e: unknown) => {
        send({ kind: 'error', message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
        process.exitCode = 1;
      },
    )
    .finally(() => process.disconnect());
});
