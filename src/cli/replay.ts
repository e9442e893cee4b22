import type { Command } from 'commander';
import os from 'node:os';
import type { Config } from '../config/schema';
import type { Mapping } from '../core/mapping/types';
import { isBridgeError } from '../errors';
import { translateInput } from '../ingest/translate-input';
import { createRefs } from '../refs';
import type { Store } from '../store';
import type { InboxRow } from '../store/inbox';
import type { Job } from '../store/jobs';
import { planDryRun } from '../support/dry-run';
import { createMasker, type Masker } from '../support/masking';
import { dryRunJobItem, formatReplay, inboxItem, requeuedJobItem, stillRejected, type MapsNow, type ReplayReport } from '../support/replay-format';
import { formatSupportId, parseSupportId, type SupportId } from '../support/support-ids';
import { EXIT, UsageError, type CliIo, type ExitCode } from './io';
import { collect, CONFIG_HELP, resolveMappingPath } from './daemon-config';
import { withMigratedStore } from './open-store';
import { readMapping } from './read-mapping';

export interface ReplayOptions {
  config?: string[];
  allFailed?: boolean;
  allRejected?: boolean;
  dryRun?: boolean;
  json?: boolean;
  unmask?: boolean;
  by?: string;
}

const PAGE = 500;

/**
 * `portal-bridge replay`: re-enqueues the KEY of each job (never an old payload: reconcile reads current state)
 * and puts rejected inbox rows back to be mapped again (after a mapping fix). Every id is checked first: one
 * unknown id and nothing is replayed. `--dry-run` plans each key from the store alone (no portal call, no
 * write) and says whether each inbox row maps now.
 */
export async function replayCommand(idTexts: readonly string[], opts: ReplayOptions, io: CliIo, now: Date = new Date()): Promise<ExitCode> {
  const ids = parseIds(idTexts, opts);
  return withMigratedStore(opts.config ?? [], async ({ config, store }) => {
    const m = createMasker(createRefs(config.log.refKey), { unmask: opts.unmask === true });
    const found = await resolveTargets(store, ids, opts);
    if (found.problems.length > 0) {
      for (const p of found.problems) io.err(`portal-bridge: ${p}`);
      io.err('portal-bridge: nothing replayed (`portal-bridge failures list` prints the ids)');
      return EXIT.failure;
    }
    if (found.jobs.length === 0 && found.inbox.length === 0) {
      io.err(`portal-bridge: nothing to replay: no ${[opts.allFailed === true ? 'failed jobs' : '', opts.allRejected === true ? 'rejected inbox rows' : ''].filter((s) => s !== '').join(' and ')}`);
      return EXIT.failure;
    }
    const report = opts.dryRun === true ? await dryRun(config, store, found, m, now) : await replay(store, found, m, now, opts.by ?? defaultActor());
    io.out(opts.json === true ? JSON.stringify(report) : formatReplay(report));
    return EXIT.ok;
  });
}

function parseIds(idTexts: readonly string[], opts: ReplayOptions): SupportId[] {
  const all = opts.allFailed === true || opts.allRejected === true;
  if (idTexts.length === 0 && !all) throw new UsageError('give the ids to replay (job:<n>, inbox:<n>), or --all-failed / --all-rejected');
  if (idTexts.length > 0 && all) throw new UsageError('give either ids or --all-failed / --all-rejected, not both');
  const ids: SupportId[] = [];
  for (const text of idTexts) {
    const id = parseSupportId(text);
    if (id === undefined) throw new UsageError(`"${text}" is not an id: give job:<n> (or <n>) or inbox:<n>, as \`portal-bridge failures list\` prints them`);
    if (!ids.some((i) => i.kind === id.kind && i.id === id.id)) ids.push(id);
  }
  return ids;
}

interface Targets {
  readonly jobs: Job[];
  readonly inbox: InboxRow[];
  /** One line per id that cannot be replayed. */
  readonly problems: string[];
}

async function resolveTargets(store: Store, ids: readonly SupportId[], opts: ReplayOptions): Promise<Targets> {
  const targets: Targets = { jobs: [], inbox: [], problems: [] };
  for (const id of ids) {
    if (id.kind === 'job') {
      const job = await store.jobs.getJob({ id: id.id });
      if (job === undefined) targets.problems.push(`${formatSupportId(id)}: no such job`);
      else targets.jobs.push(job);
    } else {
      const row = await store.inbox.getInbox(id.id);
      if (row === undefined) targets.problems.push(`${formatSupportId(id)}: no such inbox row`);
      else if (row.status !== 'rejected') targets.problems.push(`${formatSupportId(id)}: the input is ${row.status}, not rejected: there is nothing to reprocess`);
      else targets.inbox.push(row);
    }
  }
  if (opts.allFailed === true) targets.jobs.push(...(await allPages((page) => store.jobs.listFailed(page))));
  if (opts.allRejected === true) targets.inbox.push(...(await allPages((page) => store.inbox.listRejected(page))));
  return targets;
}

async function allPages<T>(list: (page: { limit: number; offset: number }) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await list({ limit: PAGE, offset });
    out.push(...page);
    if (page.length < PAGE) return out;
  }
}

async function dryRun(config: Config, store: Store, targets: Targets, m: Masker, now: Date): Promise<ReplayReport> {
  const mapping = readMapping(resolveMappingPath(config.mapping.path));
  const jobs = [];
  for (const job of targets.jobs) {
    jobs.push(dryRunJobItem(job, await planDryRun({ store, policy: mapping.policy, now, guard: config.guards }, job.key), m));
  }
  return { dryRun: true, jobs, inbox: targets.inbox.map((row) => inboxItem(row, { mapsNow: mapsNow(row, mapping, m) })) };
}

/** What the ingest worker would make of the row with the mapping in force now (pure: nothing is written). */
function mapsNow(row: InboxRow, mapping: Mapping, m: Masker): MapsNow {
  try {
    const translated = translateInput(row.format, row.raw, { [mapping.format]: mapping });
    return { ok: true, changes: translated.ops.length, ignored: translated.ignored };
  } catch (e) {
    return isBridgeError(e) ? stillRejected(e.code, e.message, m) : stillRejected('ERR_INPUT_UNREADABLE', 'the input could not be translated', m);
  }
}

async function replay(store: Store, targets: Targets, m: Masker, now: Date, actor: string): Promise<ReplayReport> {
  const reprocessed = await store.transaction(async (tx) => {
    await tx.jobs.requeue(targets.jobs.map((j) => j.id), { now });
    const done = new Set<number>();
    for (const row of targets.inbox) if ((await tx.inbox.reprocessInbox([row.id])) > 0) done.add(row.id);
    await tx.audit.appendAudit([
      ...targets.jobs.map((j) => ({ at: now, actor, guardianKey: j.key, op: 'replay', detail: { job: j.id, was: j.status } })),
      ...targets.inbox.filter((r) => done.has(r.id)).map((r) => ({ at: now, actor, inboxId: r.id, op: 'reprocess' })),
    ]);
    return done;
  });
  return {
    dryRun: false,
    jobs: targets.jobs.map((j) => requeuedJobItem(j, m)),
    inbox: targets.inbox.map((row) => inboxItem(row, { reprocessed: reprocessed.has(row.id) })),
  };
}

function defaultActor(): string {
  try {
    return `cli:${os.userInfo().username}`;
  } catch {
    return 'cli';
  }
}

export function registerReplay(program: Command, io: CliIo, done: (code: ExitCode) => void): void {
  program
    .command('replay')
    .description('re-enqueue failed jobs (their guardian key, never an old payload) or reprocess rejected inbox rows')
    .argument('[id...]', 'job:<n> (or just <n>) and/or inbox:<n>, as `failures list` prints them')
    .option('--all-failed', 'every failed job')
    .option('--all-rejected', 'every rejected inbox row (after a mapping fix)')
    .option('--dry-run', 'change nothing: print the ops reconcile would run for each key now (from the database alone, no portal call) and whether each inbox row maps now')
    .option('-c, --config <file>', CONFIG_HELP, collect, [])
    .option('--by <staff-id>', 'who replays, for the audit trail (default: cli:<login name>)')
    .option('--unmask', 'show emails, names, phones and patient ids in the dry-run ops: only for staff who need them')
    .option('--json', 'print one object {dryRun, jobs:[{id, guardian, key, was, ops?, holds?, notes?, requeued?}], inbox:[{id, source, controlId, mapsNow?, reprocessed?}]}')
    .addHelpText(
      'after',
      `
A replay asks for the guardian to be reconciled from current state: duplicates are harmless and a welcome
already sent is never sent again. Every id is checked first; if one is unknown, nothing is replayed.

Examples:
  $ portal-bridge replay job:12 --dry-run
  $ portal-bridge replay job:12 job:15 inbox:7
  $ portal-bridge replay --all-failed --dry-run --json
  $ portal-bridge replay --all-rejected --by jsmith

Exit status: 0 replayed (or planned), 1 an unknown id or nothing to replay, 2 bad usage, config or missing database.`,
    )
    .action(async (ids: string[], opts: ReplayOptions) => done(await replayCommand(ids, opts, io)));
}
