/**
 * The backfill's progress in the store and the one transaction that moves it (backfill.ts). The cursor
 * `backfill:<name>` says where the backfill stands — an export's status URL and manifest with the file and line
 * done, or the type and next page of the paging fallback — and carries the counts so far. Every batch of inbox
 * rows is committed in the SAME transaction as the cursor that counts it (DESIGN §2, §6): after a crash, the next
 * run resumes right after the last committed batch, and nothing is skipped or stored twice.
 */
import { z } from 'zod';
import { hashKey } from '../dedupe-key';
import type { NewInboxItem, Store, StoreOps } from '../../src/store';
import { cursorName as pollerCursorName } from './poller';

export interface BackfillCounts {
  /** Resources read per type (stored, duplicate and rejected), committed so far. */
  readonly byType: Readonly<Record<string, number>>;
  /** New inbox rows the ingest worker will map. */
  readonly stored: number;
  /** Already in the inbox (same source and Type/id/_history/vid): read before by the poller or an earlier backfill. */
  readonly duplicate: number;
  /** Stored as rejected with the reason (a line that is not JSON, a resource without type or id). */
  readonly rejected: number;
}

export const NO_COUNTS: BackfillCounts = Object.freeze({ byType: Object.freeze({}), stored: 0, duplicate: 0, rejected: 0 });

const countsSchema = z.object({ byType: z.record(z.string(), z.number()), stored: z.number(), duplicate: z.number(), rejected: z.number() });
/** What this backfill reads: another `since`, other types or another Group make it another backfill. */
const scope = { since: z.string().optional(), types: z.array(z.string()), group: z.string().optional(), counts: countsSchema };
const exportFile = z.object({ type: z.string(), url: z.string() });

const exportCursor = z.object({
  mode: z.literal('export'),
  ...scope,
  statusUrl: z.string(),
  /** Set with the manifest (files too); absent while the server is still preparing the export. */
  transactionTime: z.string().optional(),
  requiresAccessToken: z.boolean().optional(),
  files: z.array(exportFile).optional(),
  /** The file under way (0-based) and the lines of it already stored. */
  fileIndex: z.number().int().min(0),
  line: z.number().int().min(0),
});
const pagingCursor = z.object({
  mode: z.literal('paging'),
  ...scope,
  /** The type under way; the types before it in `types` are done. */
  type: z.string(),
  /** Its next page; absent: the type starts at its first page. */
  next: z.string().optional(),
  /** Per type, the newest meta.lastUpdated stored (the poller continues from it). */
  newest: z.record(z.string(), z.string()),
});
const doneCursor = z.object({ done: z.literal(true), mode: z.enum(['export', 'paging']), ...scope, transactionTime: z.string().optional() });
const cursorSchema = z.union([doneCursor, exportCursor, pagingCursor]);

export type ExportCursor = z.output<typeof exportCursor>;
export type PagingCursor = z.output<typeof pagingCursor>;
export type DoneCursor = z.output<typeof doneCursor>;
export type BackfillCursor = z.output<typeof cursorSchema>;
export type ExportFile = z.output<typeof exportFile>;

/** A cursor without what the run adds to every one (scope and counts). */
type Position<C> = Omit<C, 'since' | 'types' | 'counts'>;
export type ExportPosition = Position<ExportCursor>;
export type PagingPosition = Position<PagingCursor>;
export type BackfillPosition = ExportPosition | PagingPosition | Position<DoneCursor>;

export function backfillCursorName(name: string): string {
  return `backfill:${name}`;
}

/** The stored cursor, or undefined when there is none or it is not one this version understands (then: start over). */
export function parseBackfillCursor(value: string | undefined): BackfillCursor | undefined {
  if (value === undefined) return undefined;
  try {
    const parsed = cursorSchema.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** One resource (or unreadable line) of a batch, with the type it is counted under. */
export interface BatchEntry {
  readonly type: string;
  readonly item: NewInboxItem;
}

/** The rejected row for an NDJSON line that is not JSON: stored as received, keyed by its hash. */
export function unreadableLine(line: string, source: string, receivedAt: Date, reason: string): NewInboxItem {
  return { source, dedupeKey: hashKey(line), format: 'fhir', raw: line, receivedAt, status: 'rejected', errorCode: 'ERR_FHIR_UNPARSEABLE', error: reason };
}

export interface CommitOptions {
  readonly store: Pick<Store, 'transaction'>;
  readonly name: string;
  readonly since?: string;
  readonly types: readonly string[];
  /** The Group exported (`Group/<id>/$export`); none: the whole server. */
  readonly group?: string;
  readonly at: Date;
}

/**
 * One transaction: the batch into the inbox, the cursor at `position` with the counts including this batch and,
 * when `pollerSince` is given (the last batch), each type's poller cursor moved forward to that instant — never
 * back. Returns the new counts. No network call inside.
 */
export async function commitBatch(
  options: CommitOptions,
  counts: BackfillCounts,
  batch: readonly BatchEntry[],
  position: BackfillPosition,
  pollerSince?: Readonly<Record<string, string>>,
): Promise<BackfillCounts> {
  const { store, name, at } = options;
  return store.transaction(async (tx) => {
    const results = batch.length === 0 ? [] : await tx.inbox.acceptInbox(batch.map((b) => b.item));
    const byType: Record<string, number> = { ...counts.byType };
    let { stored, duplicate, rejected } = counts;
    results.forEach((r, i) => {
      const entry = batch[i];
      if (entry === undefined) return;
      byType[entry.type] = (byType[entry.type] ?? 0) + 1;
      if (r.duplicate) duplicate += 1;
      else if (entry.item.status === 'rejected') rejected += 1;
      else stored += 1;
    });
    const next: BackfillCounts = { byType, stored, duplicate, rejected };
    const value = { ...position, ...(options.since !== undefined && { since: options.since }), types: [...options.types], ...(options.group !== undefined && { group: options.group }), counts: next };
    await tx.cursors.setCursor(backfillCursorName(name), JSON.stringify(value), { now: at });
    for (const [type, since] of Object.entries(pollerSince ?? {})) await movePollerCursor(tx, name, type, since, at);
    return next;
  });
}

/** Moves a type's poller cursor to `{since}` when that is later than its own (or it has none). */
async function movePollerCursor(tx: StoreOps, channel: string, type: string, since: string, at: Date): Promise<void> {
  const target = Date.parse(since);
  if (Number.isNaN(target)) return;
  const name = pollerCursorName(channel, type);
  const current = pollerSinceOf(await tx.cursors.getCursor(name));
  if (current !== undefined && current >= target) return;
  // A traversal the poller had under way is dropped with its `next`: everything up to `since` is in the inbox now.
  await tx.cursors.setCursor(name, JSON.stringify({ since: new Date(target).toISOString() }), { now: at });
}

/** The poller cursor's `since` in epoch ms (a JSON `{since}` or an older bare instant), or undefined. */
function pollerSinceOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  let since: unknown = value;
  try {
    since = (JSON.parse(value) as { since?: unknown } | null)?.since;
  } catch {
    // A bare instant.
  }
  const ms = typeof since === 'string' ? Date.parse(since) : Number.NaN;
  return Number.isNaN(ms) ? undefined : ms;
}
