import type { Command } from 'commander';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Mapping } from '../core/mapping/types';
import { bundledCases, runDemoCase, type DemoCase } from './demo-run';
import type { CaseSummary, DemoNote } from './demo-summary';
import { EXIT, type CliIo, type ExitCode } from './io';

export interface DemoOptions {
  keep?: boolean;
  json?: boolean;
}

/** Cases run at once (each has its own database, sandbox and daemon). */
const PARALLEL = 4;
/** Per case; a case settles in well under a second. */
const CASE_TIMEOUT_MS = 30_000;

/**
 * `portal-bridge demo`: every bundled example case (mappings/examples) through the daemon's real pipeline —
 * inbox → ingest → jobs → reconcile → sandbox portal over HTTP — and a summary of what happened. The cases
 * reuse patient ids (P1001 …) for unrelated families, so each case runs in its own fresh SQLite database with
 * its own sandbox portal, as if it were the only family at the practice. Exit 0; 1 when a case did not settle
 * or ended differently from its expected.yaml.
 */
export async function demoCommand(opts: DemoOptions, io: CliIo, cases: readonly DemoCase[] = bundledCases()): Promise<ExitCode> {
  const started = Date.now();
  const root = mkdtempSync(path.join(os.tmpdir(), 'portal-bridge-demo-'));
  const mappings = new Map<string, Mapping>();
  let summaries: CaseSummary[];
  try {
    summaries = await inBatches(cases, PARALLEL, (c) =>
      runDemoCase(c, { workDir: path.join(root, c.name), startAt: new Date(`${c.expected.asOf}T17:00:00Z`), timeoutMs: CASE_TIMEOUT_MS, mappings }),
    );
  } finally {
    if (opts.keep !== true) rmSync(root, { recursive: true, force: true });
  }
  const asOf = [...new Set(cases.map((c) => c.expected.asOf))].join(', ');
  const totals = {
    cases: summaries.length,
    accounts: summaries.reduce((n, s) => n + s.accounts.length, 0),
    welcomes: summaries.reduce((n, s) => n + s.welcomes, 0),
    holds: summaries.reduce((n, s) => n + s.holds.length, 0),
    conflicts: summaries.reduce((n, s) => n + s.conflicts.length, 0),
    noAccess: summaries.reduce((n, s) => n + s.noAccess.length, 0),
    rejected: summaries.reduce((n, s) => n + s.rejected.length, 0),
  };
  const mismatched = summaries.filter((s) => s.differences.length > 0).map((s) => s.name);
  const seconds = (Date.now() - started) / 1000;
  if (opts.json === true) {
    io.out(JSON.stringify({ asOf, totals, matchesExpected: mismatched.length === 0, seconds, ...(opts.keep === true && { kept: root }), cases: summaries }));
  } else {
    io.out(formatDemo(summaries, { asOf, totals, mismatched, seconds, kept: opts.keep === true ? root : undefined }));
  }
  return mismatched.length === 0 ? EXIT.ok : EXIT.failure;
}

interface Footer {
  readonly asOf: string;
  readonly totals: Record<'cases' | 'accounts' | 'welcomes' | 'holds' | 'conflicts' | 'noAccess' | 'rejected', number>;
  readonly mismatched: readonly string[];
  readonly seconds: number;
  readonly kept: string | undefined;
}

function formatDemo(summaries: readonly CaseSummary[], f: Footer): string {
  const out = [
    `portal-bridge demo: ${f.totals.cases} example cases (mappings/examples), each fed through the daemon in its own SQLite`,
    `database with its own sandbox portal: inbox → ingest → jobs → reconcile → portal over HTTP. Ages as of ${f.asOf}.`,
  ];
  const noteLine = (label: string, n: DemoNote): string => `  ${label.padEnd(9)} ${n.person}${n.patientId === undefined ? '' : ` for ${n.patientId}`}${n.rule === undefined ? '' : ` (${n.rule})`}: ${n.reason}`;
  for (const s of summaries) {
    out.push('', `▸ ${s.name}${s.description === undefined ? '' : ` — ${firstSentence(s.description)}`}`);
    for (const a of s.accounts) {
      const deps = a.dependents.length === 0 ? 'no dependents' : a.dependents.map((d) => (d.accessLevel === 'full' ? d.patientId : `${d.patientId} (${d.accessLevel})`)).join(', ');
      const welcomes = a.welcomes === 0 ? 'no welcome (none due)' : a.welcomes === 1 ? '1 welcome sent' : `${a.welcomes} welcomes sent`;
      out.push(`  account   ${a.person} <${a.email}> → ${deps} · ${a.status} · ${welcomes}`);
    }
    for (const h of s.holds) out.push(noteLine('hold', h));
    for (const k of s.conflicts) out.push(`  conflict  ${k.people.join(' and ')} on ${k.patientIds.join(', ')}: ${k.reason}`);
    for (const n of s.noAccess) out.push(noteLine(n.outcome === 'unlink' ? 'unlinked' : 'no access', n));
    for (const r of s.rejected) out.push(`  rejected  input ${r.controlId ?? '(no MSH-10)'}: ${r.error ?? r.code ?? 'rejected'}`);
    if (s.accounts.length + s.holds.length + s.conflicts.length + s.noAccess.length + s.rejected.length === 0) out.push('  nothing to do');
    for (const d of s.differences) out.push(`  DIFFERS FROM expected.yaml: ${d}`);
  }
  const t = f.totals;
  out.push(
    '',
    `${t.cases} cases: ${count(t.accounts, 'account')}, ${count(t.welcomes, 'welcome')} sent, ${t.holds} held for staff, ${count(t.conflicts, 'conflict')}, ${t.noAccess} without access, ${count(t.rejected, 'input')} rejected (${f.seconds.toFixed(1)} s).`,
    f.mismatched.length === 0 ? 'Every case ended as its expected.yaml says.' : `Cases that ended differently from their expected.yaml: ${f.mismatched.join(', ')}.`,
    f.kept === undefined ? 'Temporary files removed (--keep keeps each case’s database and daemon log).' : `Kept in ${f.kept} (per case: portal-bridge.db, daemon.log).`,
  );
  return out.join('\n');
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function firstSentence(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const end = flat.search(/\.(\s|$)/);
  const sentence = end < 0 ? flat : flat.slice(0, end);
  return sentence.length > 110 ? `${sentence.slice(0, 109)}…` : sentence;
}

/**
 * Maps `items` with at most `parallel` in flight; results in input order. After a failure no new item starts,
 * the ones in flight finish (they use the temporary folder), then the first error is thrown.
 */
async function inBatches<T, R>(items: readonly T[], parallel: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  const failures: unknown[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length && failures.length === 0) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T);
      } catch (e) {
        failures.push(e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, lane));
  if (failures.length > 0) throw failures[0];
  return results;
}

export function registerDemo(program: Command, io: CliIo, done: (code: ExitCode) => void): void {
  program
    .command('demo')
    .description('see it work: every example case through the real daemon against a sandbox portal, in seconds')
    .option('--keep', 'keep the temporary folder (each case’s SQLite database and daemon log)')
    .option('--json', 'print one object: {asOf, totals, matchesExpected, seconds, cases: [{name, accounts, holds, conflicts, noAccess, rejected, differences}]}')
    .addHelpText(
      'after',
      `
Each case of mappings/examples runs in its own temporary SQLite database with its own sandbox portal (the cases
reuse patient ids for unrelated families), through the same composition root as \`portal-bridge start\`. Nothing
leaves this machine: the sandbox listens on 127.0.0.1 and records the welcomes instead of sending them.

Examples:
  $ portal-bridge demo
  $ portal-bridge demo --json | jq '.cases[] | {name, accounts: [.accounts[].email]}'
  $ portal-bridge demo --keep

Exit status: 0 done, 1 a case did not settle or ended differently from its expected.yaml.`,
    )
    .action(async (opts: DemoOptions) => done(await demoCommand(opts, io)));
}
