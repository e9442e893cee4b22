/**
 * The FHIR backfill (issue #5, DESIGN §2, §6): everything the server holds of the polled types, read once into
 * the inbox of a `fhir-poll` channel (one row per resource version, inbox-items.ts), for the daemon to ingest and
 * reconcile like any polled change.
 *
 * - Bulk Data `$export` when the server has it (backfill-export.ts): kick-off, status polls honouring Retry-After,
 *   NDJSON streamed line by line; else paging through searches (backfill-paging.ts). The server's
 *   CapabilityStatement decides first; a kick-off answered 404/405/501 falls back to paging too.
 * - Resumable: each batch of rows is committed with the cursor `backfill:<name>` (backfill-state.ts), so a run
 *   stopped anywhere resumes after the last committed batch — same export, same file, same line — or, when the
 *   server no longer has it, kicks it off again (what was stored counts as duplicates).
 * - When done, the cursor says so (a later run with the same `since` does nothing), and each type's poller cursor
 *   moves forward to the export's transactionTime (paging: the newest lastUpdated read), in the last transaction,
 *   so the poller carries on from there instead of reading everything again.
 * Logs carry counts, phases and file numbers: never resource content, never a URL with its query values.
 */
import { performance } from 'node:perf_hooks';
import { BridgeError, isBridgeError } from '../../src/errors';
import type { Logger } from '../../src/log';
import type { Store } from '../../src/store';
import { deleteExport, NoBulkExport, runExport } from './backfill-export';
import { runPaging } from './backfill-paging';
import { backfillCursorName, commitBatch, NO_COUNTS, parseBackfillCursor, type BackfillCursor, type BackfillPosition, type BatchEntry } from './backfill-state';
import type { FhirHttp } from './fhir-http';
import type { PolledType } from './poller';

export interface BackfillOptions {
  /** The fhir-poll connector's name: the inbox source, and the cursor `backfill:<name>`. */
  readonly name: string;
  readonly http: FhirHttp;
  readonly store: Pick<Store, 'transaction' | 'cursors'>;
  readonly log: Logger;
  /** From the connector config: the types exported (`_type`) or searched. */
  readonly resourceTypes: readonly PolledType[];
  /** Only resources changed at or after this instant (`_since` / `_lastUpdated=ge`). */
  readonly since?: Date;
  /** Forget a stored backfill (unfinished or done) and start over. */
  readonly restart?: boolean;
  /** `per-patient` (paging only): RelatedPersons are searched per Patient, as the poller does. Default `search`. */
  readonly relatedPersonSearch?: 'search' | 'per-patient';
  /**
   * Export this Group (`Group/<id>/$export`) instead of the whole server. No paging fallback then: a search would
   * read patients outside the group, so a server without the Group's export is an error.
   */
  readonly group?: string;
  /** Resources per inbox transaction (default 500). */
  readonly batchSize?: number;
  /** `_count` of the paging fallback (default 500). */
  readonly pageSize?: number;
  /** Cap on one wait between status polls, in ms (default 120,000), whatever Retry-After asks. */
  readonly statusPollMaxWaitMs?: number;
  /** Wait between status polls when the server sends no Retry-After, in ms (default 2,000). */
  readonly statusPollDefaultWaitMs?: number;
  readonly now?: () => Date;
  /** Called on each phase change, each status poll and after each committed batch. A throw stops the run (resumable). */
  readonly onProgress?: (p: BackfillProgress) => void;
}

export interface BackfillProgress {
  readonly mode: 'export' | 'paging';
  readonly phase: 'kick-off' | 'waiting' | 'downloading' | 'done';
  /** Resources read per type (stored, duplicate and rejected), over every run of this backfill. */
  readonly byType: Readonly<Record<string, number>>;
  /** New inbox rows. */
  readonly stored: number;
  /** Already in the inbox (the poller or an earlier backfill stored that version). */
  readonly duplicate: number;
  /** Stored as rejected with the reason (support queue). */
  readonly rejected: number;
  /** Export: the file being read, 1-based, of how many. */
  readonly file?: { readonly index: number; readonly count: number };
  /** The server's X-Progress while it prepares the export (at most 100 characters). */
  readonly serverProgress?: string;
}

export interface BackfillReport extends BackfillProgress {
  /** This run continued a backfill stopped earlier. */
  readonly resumed: boolean;
  /** The backfill was already done with this `since`: nothing was read. */
  readonly alreadyDone: boolean;
  /** Export: the server's transactionTime (everything changed up to it is in). */
  readonly transactionTime?: string;
  /** Duration of this run. */
  readonly seconds: number;
}

/** What the export and paging halves share. */
export interface BackfillRun {
  readonly name: string;
  readonly http: FhirHttp;
  readonly log: Logger;
  readonly types: readonly PolledType[];
  /** RFC 3339 UTC. */
  readonly since?: string;
  /** Group-level export of this Group (BackfillOptions.group). */
  readonly group?: string;
  readonly batchSize: number;
  readonly pageSize: number;
  readonly statusPollMaxWaitMs: number;
  readonly statusPollDefaultWaitMs: number;
  readonly relatedPersonSearch: 'search' | 'per-patient';
  readonly now: () => Date;
  /** Sets the phase, with the file or server progress that goes with it (none: none), and tells onProgress. */
  report(change: { phase: BackfillProgress['phase']; file?: BackfillProgress['file']; serverProgress?: string | undefined }): void;
  /** One transaction: the batch, the cursor at `position`, and (last batch) the poller cursors; then onProgress. */
  commit(batch: readonly BatchEntry[], position: BackfillPosition, pollerSince?: Readonly<Record<string, string>>): Promise<void>;
}

/**
 * Runs the backfill to its end, or resumes the stored one. Rejects with the ERR_FHIR_* / ERR_STORE_* error that
 * stopped it (the HTTP layer has retried transient ones already); what was committed stays, and the next run
 * resumes from it.
 */
export async function runBackfill(options: BackfillOptions): Promise<BackfillReport> {
  const started = performance.now();
  const log = options.log.child({ channel: options.name, connector: 'fhir-backfill' });
  const now = options.now ?? (() => new Date());
  const since = options.since?.toISOString();
  const types = [...options.resourceTypes];
  const stored = parseBackfillCursor(await options.store.cursors.getCursor(backfillCursorName(options.name)));
  const group = options.group;
  const sameScope = stored !== undefined && stored.since === since && sameSet(stored.types, types) && stored.group === group;
  const restart = options.restart === true;

  if (stored !== undefined && 'done' in stored && sameScope && !restart) {
    log.info('backfill already done: nothing to read', { mode: stored.mode, transactionTime: stored.transactionTime ?? null, ...stored.counts });
    return { mode: stored.mode, phase: 'done', ...stored.counts, resumed: false, alreadyDone: true, ...transactionTimeOf(stored.transactionTime), seconds: 0 };
  }
  const resume = stored !== undefined && !('done' in stored) && sameScope && !restart ? stored : undefined;

  let counts = resume?.counts ?? NO_COUNTS;
  let state: Pick<BackfillProgress, 'mode' | 'phase' | 'file' | 'serverProgress'> = { mode: resume?.mode ?? 'export', phase: 'kick-off' };
  const snapshot = (): BackfillProgress => ({ ...state, ...counts, byType: { ...counts.byType } });
  const commitOptions = { store: options.store, name: options.name, ...(since !== undefined && { since }), types, ...(group !== undefined && { group }) };
  const run: BackfillRun = {
    name: options.name,
    http: options.http,
    log,
    types,
    ...(since !== undefined && { since }),
    ...(group !== undefined && { group }),
    batchSize: options.batchSize ?? 500,
    pageSize: options.pageSize ?? 500,
    statusPollMaxWaitMs: options.statusPollMaxWaitMs ?? 120_000,
    statusPollDefaultWaitMs: options.statusPollDefaultWaitMs ?? 2_000,
    relatedPersonSearch: options.relatedPersonSearch ?? 'search',
    now,
    report({ phase, file, serverProgress }) {
      state = { mode: state.mode, phase, ...(file !== undefined && { file }), ...(serverProgress !== undefined && { serverProgress }) };
      options.onProgress?.(snapshot());
    },
    async commit(batch, position, pollerSince) {
      counts = await commitBatch({ ...commitOptions, at: now() }, counts, batch, position, pollerSince);
      if (batch.length > 0) options.onProgress?.(snapshot());
    },
  };

  if (stored !== undefined && resume === undefined) {
    log.info('a stored backfill is set aside: starting over', { reason: restart ? 'restart' : 'other since or types', done: 'done' in stored });
    if (!('done' in stored) && stored.mode === 'export') await deleteExport(run, stored.statusUrl);
  }
  if (resume !== undefined) log.info('backfill resumed', { mode: resume.mode, ...(resume.mode === 'export' ? { file: resume.fileIndex + 1, line: resume.line } : { type: resume.type }) });

  // A Group is exported or not at all (no search reads exactly its patients): no CapabilityStatement check.
  const mode = resume?.mode ?? (group !== undefined || (await exportDeclared(run)) ? 'export' : 'paging');
  log.info('backfill started', { mode, types, since: since ?? null, group: group !== undefined, resumed: resume !== undefined });
  let transactionTime: string | undefined;
  if (mode === 'export') {
    try {
      transactionTime = await runExport(run, resume?.mode === 'export' ? positionOf(resume) : undefined);
    } catch (e) {
      if (!(e instanceof NoBulkExport)) throw e;
      if (group !== undefined) {
        throw new BridgeError('ERR_FHIR_REQUEST', `${e.message}: the server has no such Group, or no Group-level export (check the connector's exportGroup)`, { cause: e });
      }
      log.info('the server has no $export: paging through searches instead', { reason: e.message });
    }
  }
  if (transactionTime === undefined) {
    state = { ...state, mode: 'paging' };
    await runPaging(run, resume?.mode === 'paging' ? positionOf(resume) : undefined);
  }
  run.report({ phase: 'done' });
  const seconds = Math.round((performance.now() - started) / 100) / 10;
  log.info('backfill done', { mode: state.mode, stored: counts.stored, duplicate: counts.duplicate, rejected: counts.rejected, byType: counts.byType, seconds });
  return { ...snapshot(), resumed: resume !== undefined, alreadyDone: false, ...transactionTimeOf(transactionTime), seconds };
}

/**
 * Whether the CapabilityStatement offers system-level `$export` (or instantiates the Bulk Data capability). Not
 * readable (no metadata, not a CapabilityStatement) → try the kick-off; a server that cannot be reached → throw.
 */
async function exportDeclared(run: BackfillRun): Promise<boolean> {
  let body: unknown;
  try {
    ({ body } = await run.http.request('metadata'));
  } catch (e) {
    if (isBridgeError(e) && e.errorClass === 'transient') throw e;
    run.log.debug('no readable CapabilityStatement: trying $export', { error: e });
    return true;
  }
  const cs = body as { resourceType?: unknown; instantiates?: unknown; rest?: unknown } | undefined;
  if (cs?.resourceType !== 'CapabilityStatement') return true;
  const instantiates = Array.isArray(cs.instantiates) && cs.instantiates.some((u) => typeof u === 'string' && /bulk-?data/i.test(u));
  const operations = (Array.isArray(cs.rest) ? cs.rest : []).flatMap((r: { operation?: unknown }) => (Array.isArray(r?.operation) ? (r.operation as { name?: unknown }[]) : []));
  const declared = instantiates || operations.some((o) => o?.name === 'export');
  if (!declared) run.log.info('the CapabilityStatement offers no $export: paging through searches');
  return declared;
}

function positionOf<C extends BackfillCursor>(cursor: C): Omit<C, 'since' | 'types' | 'counts'> {
  const { since: _since, types: _types, counts: _counts, ...position } = cursor;
  return position;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join(',') === [...b].sort().join(',');
}

function transactionTimeOf(value: string | undefined): { transactionTime?: string } {
  return value === undefined ? {} : { transactionTime: value };
}
