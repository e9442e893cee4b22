/**
 * bench/reconcile: N guardians with 2 children each (2N ADT messages) from the inbox to a converged sandbox portal,
 * on SQLite (temp file, WAL, synchronous FULL) and PostgreSQL (a fresh schema, dropped afterwards). Prints
 * figures; never pass/fail on time. It does fail (exit 1) when the result is wrong — accounts ≠ N, welcomes in the
 * portal's outbox ≠ N, linked children ≠ 2N, or jobs left failed — because then the figure means nothing.
 *
 *   npm run bench:reconcile                              # 10,000 guardians / 20,000 patients, both engines
 *   node dist/bench/reconcile.js 2000                    # another number of guardians
 *   node dist/bench/reconcile.js 2000 --db sqlite        # one engine (sqlite | postgres | both)
 *   node dist/bench/reconcile.js --loops 8               # concurrent job-runner loops (default 4)
 *   node --cpu-prof dist/bench/reconcile.js 2000 --db sqlite   # where the CPU goes (open the .cpuprofile)
 *
 * Other options: --accept-batch (inbox rows per acceptInbox call, default 500), --ingest-batch (rows per
 * ingestBatch, default 100), --claim-batch (jobs per claim, default 10), --replay (afterwards re-enqueue every
 * guardian and time the no-op reconcile of a converged state), --synchronous NORMAL (SQLite without an fsync per
 * commit, to see what durability costs; the default and the daemon's setting is FULL), --sql (also list the SQL
 * statements that took the most time in each phase, timed from knex's query to query-response events).
 * PostgreSQL: TEST_PG_URL, else PORTAL_BRIDGE_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test.
 *
 * Everything runs in one process, as a single daemon would with the portal beside it: the sandbox portal on
 * 127.0.0.1 (port 0, its own SQLite file), the REST client over HTTP, one ingest loop, N job-runner loops, and the
 * real logger (level info, redaction on) writing to a sink that only counts lines. The phases run one after the
 * other so each has its own figure: accept (a connector storing the messages, in batches), ingest (mapping →
 * snapshot → enqueue), reconcile (decide → observe → plan → portal calls → ledger). With `--db both` each engine
 * runs in its own child process, so peak RSS is that engine's.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { parseHl7 } from '../src/core/hl7/message';
import { loadMapping } from '../src/core/mapping/load';
import { ingestBatch, type IngestDeps } from '../src/ingest/ingest-worker';
import { createLogger } from '../src/log';
import { createRestPortalClient } from '../src/portal/rest';
import { createSandboxApp, sandboxControl } from '../src/portal/sandbox';
import { runDueJobs } from '../src/reconcile/job-runner';
import type { ReconcileDeps } from '../src/reconcile/reconcile-guardian';
import { openStore, type NewInboxItem, type Store } from '../src/store';
import { familyMessages } from '../test/helpers/families';
import { CallTimings } from './call-timings';
import { countingSink, positiveInt, usage } from './support';

type Engine = 'sqlite' | 'postgres';

const { values: flags, positionals } = usage(() => parseArgs({
  allowPositionals: true,
  options: {
    db: { type: 'string', default: 'both' },
    loops: { type: 'string', default: '4' },
    'accept-batch': { type: 'string', default: '500' },
    'ingest-batch': { type: 'string', default: '100' },
    'claim-batch': { type: 'string', default: '10' },
    synchronous: { type: 'string', default: 'FULL' },
    replay: { type: 'boolean', default: false },
    sql: { type: 'boolean', default: false },
  },
}));

const guardians = positiveInt('guardians', positionals[0] ?? '10000');
const loops = positiveInt('--loops', flags.loops);
const acceptBatch = positiveInt('--accept-batch', flags['accept-batch']);
const ingestBatchSize = positiveInt('--ingest-batch', flags['ingest-batch']);
const claimBatch = positiveInt('--claim-batch', flags['claim-batch']);
const synchronous = flags.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL';
if (flags.synchronous !== synchronous) {
  console.error(`--synchronous must be FULL or NORMAL, not ${flags.synchronous}`);
  process.exit(2);
}
const childrenPer = 2;
const pgUrl = process.env.TEST_PG_URL ?? process.env.PORTAL_BRIDGE_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const root = path.resolve(__dirname, '..', '..');

const fmt = (n: number): string => n.toLocaleString('en-US');
const secondsSince = (started: bigint): number => Number(process.hrtime.bigint() - started) / 1e9;

/**
 * Wall time and this process's CPU time (user + system) of one phase. CPU close to wall means the one Node thread
 * (store driver, sandbox portal, HTTP client, mapping, decide) is the bottleneck; well below wall, it waits on
 * the disk (fsync) or on PostgreSQL.
 */
interface PhaseFigures {
  readonly seconds: number;
  readonly cpuSeconds: number;
}

async function phase(work: () => Promise<void>): Promise<PhaseFigures> {
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await work();
  const seconds = secondsSince(started);
  const used = process.cpuUsage(cpu);
  return { seconds, cpuSeconds: (used.user + used.system) / 1e6 };
}

function describePhase(label: string, f: PhaseFigures, extra: string): string {
  return `  ${label.padEnd(10)} ${f.seconds.toFixed(2).padStart(8)} s   ${extra}   (CPU of this process ${f.cpuSeconds.toFixed(1)} s = ${((100 * f.cpuSeconds) / f.seconds).toFixed(0)} % of wall)`;
}

/** Counts log lines by level and message, parsing each JSON line as the real logger wrote it. */
async function openEngine(engine: Engine, dir: string): Promise<{ store: Store; where: string; drop: () => Promise<void> }> {
  if (engine === 'sqlite') {
    const file = path.join(dir, 'store.db');
    const store = await openStore({ file, synchronous });
    return { store, where: `SQLite temp file, WAL, synchronous ${synchronous}`, drop: async () => {} };
  }
  const schema = `bench_${randomBytes(6).toString('hex')}`;
  const store = await openStore({ url: pgUrl, schema, poolMax: Math.max(10, loops + 4) });
  return {
    store,
    where: `PostgreSQL ${pgUrl.replace(/\/\/([^:@/]+):[^@/]*@/u, '//$1:***@')}, schema ${schema} (dropped afterwards)`,
    drop: async () => {
      await store.knex.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
    },
  };
}

/** Times every SQL statement (knex query → query-response events), by statement text with IN-lists folded. */
function timeSql(store: Store, timings: CallTimings): void {
  const started = new Map<string, bigint>();
  const begin = (q: { __knexQueryUid?: string }): void => {
    if (q.__knexQueryUid !== undefined) started.set(q.__knexQueryUid, process.hrtime.bigint());
  };
  const end = (q: { __knexQueryUid?: string; sql?: string }): void => {
    const at = q.__knexQueryUid === undefined ? undefined : started.get(q.__knexQueryUid);
    if (at === undefined || q.__knexQueryUid === undefined) return;
    started.delete(q.__knexQueryUid);
    const text = String(q.sql ?? '?').replace(/\$\d+/g, '?').replace(/\((?:\?, )+\?\)/g, '(…)').replace(/(?:\(…\), )+\(…\)/g, '(…), …').replace(/\s+/g, ' ');
    timings.add(`sql ${text.length > 150 ? `${text.slice(0, 150)}…` : text}`, process.hrtime.bigint() - at);
  };
  store.knex.on('query', begin);
  store.knex.on('query-response', (_res: unknown, q: { __knexQueryUid?: string; sql?: string }) => end(q));
  store.knex.on('query-error', (_err: unknown, q: { __knexQueryUid?: string; sql?: string }) => end(q));
}

/** The SQL lines of a phase: statements in all, then the costliest. Empty without --sql. */
function sqlSummary(sql: CallTimings, top: number): string[] {
  const { calls, seconds } = sql.total();
  if (calls === 0) return [];
  return [`    SQL statements in all: ${fmt(calls)}, ${seconds.toFixed(2)} s (BEGIN / COMMIT not included); the costliest:`, ...sql.report('      ').slice(0, top)];
}

async function countRows(store: Store, table: string, where: Record<string, string> = {}): Promise<number> {
  const row = (await store.knex(table).where(where).count({ n: '*' }).first()) as { n: unknown } | undefined;
  return Number(row?.n ?? 0);
}

/** Runs due jobs until none is queued or running; waits for backoff times instead of spinning. */
async function runnerLoop(deps: ReconcileDeps, workerId: string): Promise<void> {
  for (;;) {
    const ran = await runDueJobs(deps, { workerId, leaseMs: 600_000, batch: claimBatch });
    if (ran > 0) continue;
    const counts = await deps.store.jobs.counts();
    if (counts.queued + counts.running === 0) return;
    const due = await deps.store.jobs.nextDueAt();
    const wait = due === undefined ? 20 : Math.min(1_000, Math.max(20, Date.parse(due) - Date.now()));
    await delay(wait);
  }
}

async function runEngine(engine: Engine): Promise<boolean> {
  const messages = familyMessages({ guardians, childrenPer });
  // What a connector knows before it stores a message (framing gives MSH-10): prepared outside the timers.
  const items: NewInboxItem[] = messages.map((raw) => {
    const controlId = parseHl7(raw).controlId;
    return { source: 'bench', dedupeKey: controlId, controlId, format: 'hl7v2', raw };
  });
  const loaded = loadMapping(readFileSync(path.join(root, 'mappings', 'hl7v2-default.yaml'), 'utf8'), 'hl7v2-default.yaml');
  if (!loaded.ok) throw new Error('default mapping does not load');
  const mapping = loaded.mapping;

  const dir = mkdtempSync(path.join(os.tmpdir(), 'pb-bench-reconcile-'));
  const { store: rawStore, where, drop } = await openEngine(engine, dir);
  const timings = new CallTimings();
  const sqlTimings = new CallTimings();
  if (flags.sql) timeSql(rawStore, sqlTimings);
  const { app } = createSandboxApp({ dbFile: path.join(dir, 'portal.db') });
  app.addHook('onResponse', async (req, reply) => {
    timings.add(`sandbox ${req.method} ${req.routeOptions.url ?? '?'}`, BigInt(Math.round(reply.elapsedTime * 1e6)));
  });
  let ok: boolean;
  try {
    await rawStore.migrate();
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const control = sandboxControl(url);
    const store = timings.wrapStore(rawStore);
    const portal = timings.wrap('portal', createRestPortalClient({ baseUrl: url, timeoutMs: 30_000 }));
    const sink = countingSink();
    const log = createLogger({ level: 'info', stream: sink.stream });
    const now = (): Date => new Date();
    const ingest: IngestDeps = { store, mappings: { hl7v2: mapping }, policy: mapping.policy, now, log };
    const reconcile: ReconcileDeps = { store, portal, policy: mapping.policy, practice: 'bench-practice', invitation: { channel: 'email', method: 'link' }, now, log };

    console.log(`\n[${engine}] ${where}`);
    console.log(`  ${fmt(guardians)} guardians, ${fmt(guardians * childrenPer)} patients (${fmt(messages.length)} ADT^A04 messages); sandbox portal ${url} (SQLite file); ${loops} job-runner loops`);

    const accept = await phase(async () => {
      for (let i = 0; i < items.length; i += acceptBatch) await store.inbox.acceptInbox(items.slice(i, i + acceptBatch));
    });
    const acceptTimings = [...timings.report(), ...sqlSummary(sqlTimings, 12)];
    timings.reset();
    sqlTimings.reset();

    let ingested = 0;
    const ingestFigures = await phase(async () => {
      for (let n = await ingestBatch(ingest, ingestBatchSize); n > 0; n = await ingestBatch(ingest, ingestBatchSize)) ingested += n;
    });
    const ingestTimings = [...timings.report(), ...sqlSummary(sqlTimings, 12)];
    timings.reset();
    sqlTimings.reset();

    const reconcileFigures = await phase(async () => {
      await Promise.all(Array.from({ length: loops }, (_, i) => runnerLoop(reconcile, `bench-${i + 1}`)));
    });
    const reconcileTimings = [...timings.report(), ...sqlSummary(sqlTimings, 20)];
    timings.reset();
    sqlTimings.reset();

    const total = accept.seconds + ingestFigures.seconds + reconcileFigures.seconds;
    console.log(describePhase('accept', accept, `${fmt(Math.round(items.length / accept.seconds))} messages/s, batches of ${acceptBatch}`.padEnd(40)));
    console.log(describePhase('ingest', ingestFigures, `${fmt(Math.round(ingested / ingestFigures.seconds))} messages/s`.padEnd(40)));
    console.log(describePhase('reconcile', reconcileFigures, `${fmt(Math.round(guardians / reconcileFigures.seconds))} guardians/s`.padEnd(40)));
    console.log(`  total      ${total.toFixed(2).padStart(8)} s   ${fmt(Math.round(guardians / total))} guardians/s inbox → converged portal`);

    // The figure is only honest if the result is right.
    const jobs = await rawStore.jobs.counts();
    const outbox = await control.outbox();
    const checks: [string, number, number][] = [
      ['inbox rows accepted', await countRows(rawStore, 'inbox', { status: 'accepted' }), messages.length],
      ['ledger accounts', await countRows(rawStore, 'accounts'), guardians],
      ['ledger links linked', await countRows(rawStore, 'links', { status: 'linked' }), guardians * childrenPer],
      ['invitations sent', await countRows(rawStore, 'invitations', { status: 'sent' }), guardians],
      ['welcomes in the portal outbox', outbox.length, guardians],
      ['distinct accounts welcomed', new Set(outbox.map((o) => o.accountId)).size, guardians],
      ['jobs succeeded', jobs.succeeded, guardians],
      ['jobs failed / queued / running', jobs.failed + jobs.queued + jobs.running, 0],
    ];
    ok = checks.every(([, got, want]) => got === want);
    console.log(`  result ${ok ? 'right' : 'WRONG — the figures above do not count'}: ${checks.map(([name, got, want]) => `${name} ${fmt(got)}${got === want ? '' : ` (expected ${fmt(want)})`}`).join(', ')}`);
    console.log(`  log lines: ${[...sink.counts.entries()].map(([k, n]) => `${k} ×${fmt(n)}`).join(', ')}`);

    if (flags.replay) {
      for (let offset = 0; ; offset += 1_000) {
        const page = await rawStore.ledger.listAccounts({ limit: 1_000, offset });
        if (page.length === 0) break;
        await rawStore.jobs.enqueue(page.map((a) => a.guardianKey), { now: now() });
      }
      const replay = await phase(async () => {
        await Promise.all(Array.from({ length: loops }, (_, i) => runnerLoop(reconcile, `bench-replay-${i + 1}`)));
      });
      const after = (await control.outbox()).length;
      console.log(describePhase('replay', replay, `${fmt(Math.round(guardians / replay.seconds))} guardians/s, no-op; outbox still ${fmt(after)}`.padEnd(40)));
      if (after !== guardians) ok = false;
      console.log('  where the replay time goes (summed over loops):');
      for (const line of timings.report()) console.log(line);
      timings.reset();
    }

    console.log(`  peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (process.resourceUsage().maxRSS)`);
    console.log('  where the accept time goes:');
    for (const line of acceptTimings) console.log(line);
    console.log('  where the ingest time goes:');
    for (const line of ingestTimings) console.log(line);
    console.log(`  where the reconcile time goes (summed over ${loops} concurrent loops; sandbox = server-side handling, inside the portal figures):`);
    for (const line of reconcileTimings) console.log(line);
  } finally {
    await app.close();
    try {
      await drop();
    } finally {
      await rawStore.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return ok;
}

async function main(): Promise<void> {
  const db = flags.db;
  if (db !== 'sqlite' && db !== 'postgres' && db !== 'both') {
    console.error(`--db must be sqlite, postgres or both, not ${db}`);
    process.exit(2);
  }
  console.log(`bench/reconcile — inbox → ingest → reconcile → sandbox portal over HTTP, one process (Node ${process.version}, ${os.cpus().length} cores)`);
  if (db !== 'both') {
    if (!(await runEngine(db))) process.exitCode = 1;
    return;
  }
  // One child per engine: each peak RSS is that engine's alone.
  for (const engine of ['sqlite', 'postgres'] as const) {
    const args = [...process.execArgv, __filename, ...process.argv.slice(2).filter((a, i, all) => a !== '--db' && all[i - 1] !== '--db' && !a.startsWith('--db=')), '--db', engine];
    const child = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
    // Drop the child's own title line: this process printed it.
    process.stdout.write(child.stdout.split('\n').slice(1).join('\n'));
    if (child.status !== 0) process.exitCode = 1;
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
  process.exitCode = 1;
});
