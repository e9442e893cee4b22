/**
 * bench/backfill (issue #5): N patients, each with 2 RelatedPersons (families of 2 children and 2 guardians, the
 * FHIR test server's `addFamilies({coParents: true})`), from the server's Bulk Data `$export` to a converged sandbox
 * portal, on SQLite (temp file, WAL, synchronous FULL) and PostgreSQL (a fresh schema, dropped afterwards), at N
 * and at N/2 to show how the cost grows. Prints figures; never pass/fail on time. It does fail (exit 1) when the
 * result is wrong — backfill or inbox rows ≠ resources exported, ledger accounts ≠ guardians, linked children ≠
 * RelatedPersons, welcomes in the portal's outbox ≠ accounts (one each), or jobs left failed — because then the
 * figure means nothing.
 *
 *   npm run bench:backfill                                   # 100,000 patients and 50,000, both engines, both modes
 *   node dist/bench/backfill.js --patients 2000              # another size (the half too, unless --no-half)
 *   node dist/bench/backfill.js --patients 10000 --db sqlite # one engine (sqlite | postgres | both)
 *   node dist/bench/backfill.js --mode daemon --loops 8      # one mode (phases | daemon | both); job loops (default 4)
 *   node dist/bench/backfill.js --patients 2000 --json       # one JSON document on stdout, no progress line
 *   node --cpu-prof dist/bench/backfill.js --patients 2000 --db sqlite --no-half --mode phases   # profiles the bridge only
 *
 * Issue #5's targets, printed beside the figures: ≤ 120 s and ≤ 300 MB peak RSS at 100,000 patients; doubling the
 * data costs no more than 2.2 × the time. PostgreSQL: TEST_PG_URL, else postgres://postgres@127.0.0.1:5432/test.
 *
 * Three processes per run, so each figure is the bridge's alone: the FHIR test server (families generated on
 * demand, one 202 with Retry-After 1 s before the manifest — so 1 s of every export figure is that wait) and the
 * sandbox portal (its own SQLite file) are children of this process (backfill-servers.ts); the bridge is a third
 * child (backfill-bridge.ts): runBackfill ($export → NDJSON → inbox), the daemon's ingest loop and N job-worker
 * loops, the REST portal client over HTTP, the real logger at level info into a counting sink. Every engine × mode ×
 * size is a fresh set of three processes, fresh databases, so peak RSS (process.resourceUsage().maxRSS of the bridge,
 * taken at convergence) is that run's. Modes:
 *   phases  export, then ingest, then reconcile, one after the other: a figure for each.
 *   daemon  what `portal-bridge start` does during a backfill — the ingest loop and the job loops take rows while the
 *           backfill still stores them; the realistic total. Milestones: export done, inbox caught up, converged.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sandboxControl } from '../src/portal/sandbox';
import type { BridgeMessage, BridgeRequest, BridgeResult, Check, Engine, Families, Mode, ServerCommand, ServerMessage } from './backfill-protocol';
import { positiveInt, usage } from './support';

const TARGET_SECONDS = 120;
const TARGET_RSS_MB = 300;
const TARGET_GROWTH = 2.2;
const TARGET_PATIENTS = 100_000;

const { values: flags } = usage(() =>
  parseArgs({
    allowNegative: true,
    options: {
      patients: { type: 'string', default: '100000' },
      half: { type: 'boolean', default: true },
      db: { type: 'string', default: 'both' },
      mode: { type: 'string', default: 'both' },
      loops: { type: 'string', default: '4' },
      json: { type: 'boolean', default: false },
    },
  }),
);

const patients = positiveInt('--patients', flags.patients);
const loops = positiveInt('--loops', flags.loops);
const engines = oneOf('--db', flags.db, ['sqlite', 'postgres'] as const);
const modes = oneOf('--mode', flags.mode, ['phases', 'daemon'] as const);
const families = Math.floor(patients / 2);
const sizes = flags.half ? [Math.floor(families / 2), families] : [families];
if (sizes.some((n) => n < 1)) {
  console.error(`--patients ${patients} is too small: at least ${flags.half ? 4 : 2} (families of 2 children${flags.half ? ', and half of them' : ''})`);
  process.exit(2);
}
const pgUrl = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const showProgress = !flags.json && process.stderr.isTTY;

function oneOf<T extends string>(name: string, text: string, all: readonly T[]): readonly T[] {
  if (text === 'both') return all;
  const hit = all.find((v) => v === text);
  if (hit === undefined) {
    console.error(`${name} must be ${all.join(', ')} or both, not ${text}`);
    process.exit(2);
  }
  return [hit];
}

const fmt = (n: number): string => n.toLocaleString('en-US');
const mb = (n: number): string => `${n.toFixed(0)} MB`;

/** A server child's own figures, taken when it stopped. */
interface ServerFigures {
  readonly peakRssMb: number;
  readonly cpuSeconds: number;
}

interface Run {
  readonly engine: Engine;
  readonly mode: Mode;
  readonly families: Families;
  readonly result?: BridgeResult;
  readonly error?: string;
  /** The bridge's checks and the portal's (outbox), together. */
  readonly checks: readonly Check[];
  readonly ok: boolean;
  readonly fhirServer?: ServerFigures;
  readonly sandbox?: ServerFigures;
}

/** The first message `accept` takes; rejects when the child exits (or fails to start) before sending one. */
function nextMessage<M, T>(child: ChildProcess, what: string, accept: (m: M) => T | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: M): void => {
      const hit = accept(m);
      if (hit === undefined) return;
      cleanup();
      resolve(hit);
    };
    const onExit = (code: number | null, signal: string | null): void => {
      cleanup();
      reject(new Error(`${what} exited (${signal ?? `code ${code}`}) before answering`));
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(e);
    };
    const cleanup = (): void => {
      child.off('message', onMessage);
      child.off('exit', onExit);
      child.off('error', onError);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
    child.on('error', onError);
  });
}

interface ServerChild {
  readonly ready: Promise<{ url: string; families?: Families }>;
  stop(): Promise<ServerFigures | undefined>;
}

function startServer(what: string, args: readonly string[]): ServerChild {
  // Without our execArgv: --cpu-prof and the like are for the bridge.
  const child = fork(path.join(__dirname, 'backfill-servers.js'), [...args], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const ready = nextMessage(child, what, (m: ServerMessage) => {
    if (m.kind === 'error') throw new Error(`${what}: ${m.message}`);
    return m.kind === 'ready' ? { url: m.url, ...(m.families !== undefined && { families: m.families }) } : undefined;
  });
  ready.catch(() => {});
  return {
    ready,
    async stop() {
      if (child.exitCode !== null || !child.connected) return undefined;
      const stopped = nextMessage(child, what, (m: ServerMessage) => (m.kind === 'stopped' ? { peakRssMb: m.peakRssMb, cpuSeconds: m.cpuSeconds } : undefined));
      child.send({ kind: 'stop' } satisfies ServerCommand);
      try {
        return await stopped;
      } catch {
        return undefined;
      } finally {
        if (child.exitCode === null) child.kill();
      }
    },
  };
}

async function runOne(engine: Engine, mode: Mode, size: number): Promise<Run> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pb-bench-backfill-portal-'));
  const fhir = startServer('FHIR test server', ['fhir', String(size)]);
  const sandbox = startServer('sandbox portal', ['sandbox', path.join(dir, 'portal.db')]);
  let families: Families = { families: size, patients: 2 * size, relatedPersons: 4 * size };
  let result: BridgeResult | undefined;
  let error: string | undefined;
  const checks: Check[] = [];
  let servers: (ServerFigures | undefined)[];
  try {
    const [f, s] = await Promise.all([fhir.ready, sandbox.ready]);
    families = f.families ?? families;
    const request: BridgeRequest = { engine, mode, loops, fhirBaseUrl: f.url, sandboxUrl: s.url, pgUrl, families, progress: showProgress };
    const bridge = fork(path.join(__dirname, 'backfill-bridge.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const answer = nextMessage(bridge, 'the bridge', (m: BridgeMessage) => {
      if (m.kind === 'progress') {
        process.stderr.write(`\r\x1b[K  [${engine}, ${mode}, ${fmt(families.patients)} patients] ${m.text}`);
        return undefined;
      }
      return m;
    });
    bridge.send(request);
    const m = await answer;
    if (showProgress) process.stderr.write('\r\x1b[K');
    if (m.kind === 'error') error = m.message;
    else {
      result = m.result;
      checks.push(...m.result.checks);
      const outbox = await sandboxControl(s.url).outbox();
      const guardians = 2 * families.families;
      checks.push(['welcomes in the portal outbox', outbox.length, guardians], ['distinct accounts welcomed', new Set(outbox.map((o) => o.accountId)).size, guardians]);
    }
    // It has answered: a socket still open must not hold the next run.
    if (bridge.exitCode === null && bridge.signalCode === null) {
      const exited = new Promise((resolve) => bridge.once('exit', resolve));
      const timer = setTimeout(() => bridge.kill(), 10_000);
      await exited;
      clearTimeout(timer);
    }
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  } finally {
    servers = await Promise.all([fhir.stop(), sandbox.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
  const ok = error === undefined && checks.length > 0 && checks.every(([, got, want]) => got === want);
  return { engine, mode, families, ...(result !== undefined && { result }), ...(error !== undefined && { error }), checks, ok, ...(servers[0] !== undefined && { fhirServer: servers[0] }), ...(servers[1] !== undefined && { sandbox: servers[1] }) };
}

function describeRun(run: Run): string[] {
  const { families: f, result: r } = run;
  const head = `\n[${run.engine}, ${run.mode}] ${fmt(f.patients)} patients, ${fmt(f.relatedPersons)} RelatedPersons (${fmt(f.families)} families, ${fmt(2 * f.families)} guardians); ${loops} job loops`;
  if (r === undefined) return [head, `  FAILED: ${run.error ?? 'no result'}`];
  const lines = [head, `  ${r.where}`];
  for (const p of r.phases) {
    lines.push(`  ${p.name.padEnd(10)} ${p.seconds.toFixed(2).padStart(8)} s  (at ${p.atSeconds.toFixed(2).padStart(8)} s)   ${p.detail}   (CPU of the bridge ${p.cpuSeconds.toFixed(1)} s = ${((100 * p.cpuSeconds) / Math.max(p.seconds, 1e-9)).toFixed(0)} % of wall)`);
  }
  lines.push(`  total      ${r.totalSeconds.toFixed(2).padStart(8)} s   ${fmt(Math.round(f.patients / r.totalSeconds))} patients/s, ${fmt(Math.round((2 * f.families) / r.totalSeconds))} guardians/s, $export kick-off → converged portal`);
  const server = (name: string, s: ServerFigures | undefined): string => (s === undefined ? `${name} ?` : `${name} ${mb(s.peakRssMb)}, CPU ${s.cpuSeconds.toFixed(1)} s`);
  lines.push(`  peak RSS of the bridge ${mb(r.peakRssMb)} (process.resourceUsage().maxRSS at convergence); the others, for scale: ${server('FHIR server', run.fhirServer)}; ${server('sandbox portal', run.sandbox)}`);
  lines.push(`  result ${run.ok ? 'right' : 'WRONG — the figures above do not count'}: ${run.checks.map(([name, got, want]) => `${name} ${fmt(got)}${got === want ? '' : ` (expected ${fmt(want)})`}`).join(', ')}`);
  if (run.error !== undefined) lines.push(`  error: ${run.error}`);
  lines.push(`  log lines: ${Object.entries(r.logLines).map(([k, n]) => `${k} ×${fmt(n)}`).join(', ')}`);
  for (const [name, rows] of Object.entries(r.timings)) {
    lines.push(`  where the ${name} time goes (store functions and portal calls, summed over concurrent loops; a transaction holds its calls):`, ...rows);
  }
  return lines;
}

interface Growth {
  readonly engine: Engine;
  readonly mode: Mode;
  readonly half: { patients: number; seconds: number; peakRssMb: number } | undefined;
  readonly full: { patients: number; seconds: number; peakRssMb: number } | undefined;
  readonly ratio: number | undefined;
}

function growth(runs: readonly Run[]): Growth[] {
  const out: Growth[] = [];
  for (const engine of engines) {
    for (const mode of modes) {
      const mine = runs.filter((r) => r.engine === engine && r.mode === mode && r.ok && r.result !== undefined);
      const fig = (size: number): Growth['full'] => {
        const run = mine.find((r) => r.families.families === size);
        return run?.result === undefined ? undefined : { patients: run.families.patients, seconds: run.result.totalSeconds, peakRssMb: run.result.peakRssMb };
      };
      const full = fig(sizes.at(-1)!);
      const half = sizes.length > 1 ? fig(sizes[0]!) : undefined;
      out.push({ engine, mode, half, full, ratio: half !== undefined && full !== undefined ? full.seconds / half.seconds : undefined });
    }
  }
  return out;
}

function describeGrowth(rows: readonly Growth[]): string[] {
  const lines = [`\nsummary — issue #5 targets at ${fmt(TARGET_PATIENTS)} patients: ≤ ${TARGET_SECONDS} s, ≤ ${TARGET_RSS_MB} MB peak RSS; time(N) / time(N/2) ≤ ${TARGET_GROWTH}`];
  for (const g of rows) {
    const cell = (x: Growth['full']): string => (x === undefined ? '—' : `${fmt(x.patients)} patients ${x.seconds.toFixed(1)} s, ${mb(x.peakRssMb)}`);
    const ratio = g.ratio === undefined ? '' : `   growth ×${g.ratio.toFixed(2)} (${g.ratio <= TARGET_GROWTH ? 'within' : 'over'} ${TARGET_GROWTH})`;
    lines.push(`  ${g.engine.padEnd(8)} ${g.mode.padEnd(7)} ${g.half === undefined ? '' : `${cell(g.half)}   `}${cell(g.full)}${ratio}`);
  }
  return lines;
}

async function main(): Promise<void> {
  const title = `bench/backfill — FHIR $export → inbox → ingest → reconcile → sandbox portal over HTTP (Node ${process.version}, ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')})`;
  if (!flags.json) console.log(title);
  const runs: Run[] = [];
  for (const engine of engines) {
    for (const mode of modes) {
      for (const size of sizes) {
        const run = await runOne(engine, mode, size);
        runs.push(run);
        if (!flags.json) console.log(describeRun(run).join('\n'));
      }
    }
  }
  const rows = growth(runs);
  if (flags.json) {
    console.log(JSON.stringify({ node: process.version, cores: os.cpus().length, loadAverageAtEnd: os.loadavg(), loops, runs, growth: rows }, null, 2));
  } else {
    console.log(describeGrowth(rows).join('\n'));
    console.log(`  load average at the end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (other work on this machine shares its ${os.cpus().length} cores)`);
  }
  if (runs.some((r) => !r.ok)) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
  process.exitCode = 1;
});
