/**
 * The inbox (DESIGN §2, §6): every input exactly as received, committed before the connector ACKs it or advances
 * its cursor. `(source, dedupe_key)` is unique, so a retransmission is stored once and its stored ACK replayed.
 */
import type { Db } from './db';
import { chunks, writeTransaction } from './db';
import { fromJson, oneLine, optionalText, toCount, toDbTime, toId, toJson } from './column-values';

export const INBOX_FORMATS = ['hl7v2', 'fhir'] as const;
export type InboxFormat = (typeof INBOX_FORMATS)[number];
export const INBOX_STATUSES = ['received', 'accepted', 'rejected', 'ignored'] as const;
export type InboxStatus = (typeof INBOX_STATUSES)[number];

/** One input to store. */
export interface NewInboxItem {
  /** The channel (connector) name. */
  readonly source: string;
  /** What makes a retransmission the same input on this channel: MSH-10 for HL7, type/id/version for FHIR. */
  readonly dedupeKey: string;
  readonly format: InboxFormat;
  readonly controlId?: string;
  /** The input exactly as received; stored unaltered. */
  readonly raw: string;
  /** Default: the time of the call. */
  readonly receivedAt?: Date;
  /** `rejected` for input the connector already knows is bad (stored with its reason, answered AE/AR). */
  readonly status?: 'received' | 'rejected';
  readonly errorCode?: string;
  readonly error?: string;
  /** The ACK to replay for retransmissions, when it is known before the commit. */
  readonly ack?: string;
}

export interface AcceptResult {
  readonly id: number;
  /** True when this (source, dedupeKey) was already stored (earlier, or earlier in the same batch). */
  readonly duplicate: boolean;
  /** The stored ACK (for a duplicate: the one to replay). */
  readonly ack?: string;
}

export interface InboxRow {
  readonly id: number;
  readonly source: string;
  readonly dedupeKey: string;
  readonly format: InboxFormat;
  readonly controlId?: string;
  readonly raw: string;
  readonly receivedAt: string;
  readonly status: InboxStatus;
  readonly errorCode?: string;
  readonly error?: string;
  readonly warnings: readonly string[];
  readonly processedAt?: string;
  readonly ack?: string;
}

/** How processing ended for one inbox row. */
export interface InboxOutcome {
  readonly status: 'accepted' | 'rejected' | 'ignored';
  readonly errorCode?: string;
  /** One line, safe for staff (no patient data); longer text is cut to one line. */
  readonly error?: string;
  readonly warnings?: readonly string[];
}

// SQLite compiles a multi-row insert into a compound SELECT (at most 500 terms).
const INSERT_CHUNK = 100;

/**
 * Stores a batch of inputs in ONE transaction (group commit: the listener passes everything that arrived while
 * the previous commit ran) and returns, in input order, each item's id and whether it was a duplicate. A duplicate
 * returns the stored row's id and ACK; nothing of it is written. Idempotent.
 */
export async function acceptInbox(db: Db, given: readonly NewInboxItem[], options: { now?: Date } = {}): Promise<AcceptResult[]> {
  if (given.length === 0) return [];
  const items = given.map(storableItem);
  const now = options.now ?? new Date();
  return writeTransaction(db, async (trx) => {
    const inserted = new Map<string, { id: number; ack?: string }>();
    for (const part of chunks(items, INSERT_CHUNK)) {
      const rows = await trx('inbox')
        .insert(part.map((item) => toInsertRow(item, now)))
        .onConflict(['source', 'dedupe_key'])
        .ignore()
        .returning(['id', 'source', 'dedupe_key', 'ack']);
      for (const row of rows as { id: unknown; source: string; dedupe_key: string; ack: unknown }[]) {
        inserted.set(itemKey(row.source, row.dedupe_key), { id: toId(row.id), ...ackOf(row.ack) });
      }
    }
    const missing = [...new Set(items.map((i) => itemKey(i.source, i.dedupeKey)).filter((k) => !inserted.has(k)))];
    const existing = new Map<string, { id: number; ack?: string }>();
    for (const part of chunks(missing, INSERT_CHUNK)) {
      const pairs = part.map((k) => JSON.parse(k) as [string, string]);
      const rows = await trx('inbox').select('id', 'source', 'dedupe_key', 'ack').whereIn(['source', 'dedupe_key'], pairs);
      for (const row of rows as { id: unknown; source: string; dedupe_key: string; ack: unknown }[]) {
        existing.set(itemKey(row.source, row.dedupe_key), { id: toId(row.id), ...ackOf(row.ack) });
      }
    }
    const seen = new Set<string>();
    const results = items.map((item) => {
      const key = itemKey(item.source, item.dedupeKey);
      const fresh = inserted.get(key);
      const firstTime = fresh !== undefined && !seen.has(key);
      seen.add(key);
      const stored = fresh ?? existing.get(key);
      if (stored === undefined) throw new Error('inbox row vanished inside its transaction');
      return { id: stored.id, duplicate: !firstTime, ...(stored.ack === undefined ? {} : { ack: stored.ack }) };
    });
    await countChannels(trx, items, results, now);
    return results;
  });
}

/** A channel's counters (`portal-bridge status`). */
export interface ChannelStats {
  readonly source: string;
  /** Every input received on the channel, retransmissions included. */
  readonly received: number;
  /** Stored to be processed (answered AA / CA). */
  readonly accepted: number;
  /** Stored as rejected (answered AE / AR / CE / CR) with the reason. */
  readonly rejected: number;
  /** Retransmissions of an input already stored (answered with the stored ACK, not stored again). */
  readonly duplicate: number;
  readonly lastMessageAt: string;
}

/** Every channel's counters, by name. */
export async function channelStats(db: Db): Promise<ChannelStats[]> {
  const rows = (await db('channel_stats').select('*').orderBy('source')) as Record<string, unknown>[];
  return rows.map((row) => ({
    source: String(row.source),
    received: toCount(row.received),
    accepted: toCount(row.accepted),
    rejected: toCount(row.rejected),
    duplicate: toCount(row.duplicate),
    lastMessageAt: String(row.last_message_at),
  }));
}

/** Rows now in the inbox per source and status (retention prunes processed rows, so these are not totals). */
export async function inboxCounts(db: Db): Promise<{ source: string; status: InboxStatus; count: number }[]> {
  const rows = (await db('inbox').select('source', 'status').count({ n: '*' }).groupBy('source', 'status').orderBy('source')) as { source: string; status: string; n: unknown }[];
  return rows.map((r) => ({ source: r.source, status: r.status as InboxStatus, count: toCount(r.n) }));
}

/** Adds one batch to its channels' counters, in the batch's transaction (one statement per channel). */
async function countChannels(trx: Db, items: readonly NewInboxItem[], results: readonly AcceptResult[], now: Date): Promise<void> {
  const bySource = new Map<string, { received: number; accepted: number; rejected: number; duplicate: number; last: string }>();
  items.forEach((item, i) => {
    const at = toDbTime(item.receivedAt ?? now);
    const counts = bySource.get(item.source) ?? { received: 0, accepted: 0, rejected: 0, duplicate: 0, last: at };
    counts.received += 1;
    if (results[i]?.duplicate === true) counts.duplicate += 1;
    else if (item.status === 'rejected') counts.rejected += 1;
    else counts.accepted += 1;
    if (at > counts.last) counts.last = at;
    bySource.set(item.source, counts);
  });
  for (const [source, c] of bySource) {
    await trx('channel_stats')
      .insert({ source, received: c.received, accepted: c.accepted, rejected: c.rejected, duplicate: c.duplicate, last_message_at: c.last })
      .onConflict('source')
      .merge({
        received: trx.raw('channel_stats.received + excluded.received'),
        accepted: trx.raw('channel_stats.accepted + excluded.accepted'),
        rejected: trx.raw('channel_stats.rejected + excluded.rejected'),
        duplicate: trx.raw('channel_stats.duplicate + excluded.duplicate'),
        last_message_at: trx.raw('CASE WHEN excluded.last_message_at > channel_stats.last_message_at THEN excluded.last_message_at ELSE channel_stats.last_message_at END'),
      });
  }
}

/** Records the ACK sent for a stored input (replayed for retransmissions). */
export async function setAck(db: Db, id: number, ack: string): Promise<void> {
  await db('inbox').where({ id }).update({ ack });
}

/** Inputs not yet processed, oldest first. */
export async function nextUnprocessed(db: Db, limit: number): Promise<InboxRow[]> {
  const rows = await db('inbox').select('*').where({ status: 'received' }).orderBy('id').limit(limit);
  return rows.map(fromRow);
}

/** Records how processing ended. Only a `received` row changes; returns whether it did. */
export async function markProcessed(db: Db, id: number, outcome: InboxOutcome, options: { now?: Date } = {}): Promise<boolean> {
  const changed = await db('inbox')
    .where({ id, status: 'received' })
    .update({
      status: outcome.status,
      error_code: outcome.errorCode ?? null,
      error: outcome.error === undefined ? null : oneLine(outcome.error),
      warnings: outcome.warnings === undefined || outcome.warnings.length === 0 ? null : toJson(outcome.warnings),
      processed_at: toDbTime(options.now ?? new Date()),
    });
  return changed > 0;
}

/** Puts rejected rows back to `received` so the ingest worker maps them again (replay after a mapping fix). */
export async function reprocessInbox(db: Db, ids: readonly number[]): Promise<number> {
  if (ids.length === 0) return 0;
  return db('inbox')
    .whereIn('id', [...ids])
    .where({ status: 'rejected' })
    .update({ status: 'received', error_code: null, error: null, warnings: null, processed_at: null });
}

export async function getInbox(db: Db, id: number): Promise<InboxRow | undefined> {
  const row = await db('inbox').select('*').where({ id }).first();
  return row === undefined ? undefined : fromRow(row);
}

/** Rejected inputs, newest first (the support queue). */
export async function listRejected(db: Db, page: { limit: number; offset?: number }): Promise<InboxRow[]> {
  const rows = await db('inbox').select('*').where({ status: 'rejected' }).orderBy('id', 'desc').limit(page.limit).offset(page.offset ?? 0);
  return rows.map(fromRow);
}

/** Retention: deletes accepted and ignored rows processed before `olderThan`. Rejected and unprocessed rows stay. */
export async function pruneProcessed(db: Db, options: { olderThan: Date }): Promise<number> {
  return db('inbox').whereIn('status', ['accepted', 'ignored']).where('processed_at', '<', toDbTime(options.olderThan)).delete();
}

function itemKey(source: string, dedupeKey: string): string {
  return JSON.stringify([source, dedupeKey]);
}

function ackOf(value: unknown): { ack?: string } {
  const ack = optionalText(value);
  return ack === undefined ? {} : { ack };
}

/**
 * PostgreSQL text cannot hold NUL, so neither engine stores one: each becomes U+FFFD. Only input that is not HL7
 * or JSON text holds NUL bytes, and connectors reject it (with the reason) before it gets here.
 */
function storableText(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text;
}

function storableItem(item: NewInboxItem): NewInboxItem {
  const texts: unknown[] = [item.raw, item.dedupeKey, item.controlId, item.ack, item.error];
  if (!texts.some((t) => typeof t === 'string' && t.includes('\u0000'))) return item;
  return {
    ...item,
    raw: storableText(item.raw),
    dedupeKey: storableText(item.dedupeKey),
    ...(item.controlId !== undefined && { controlId: storableText(item.controlId) }),
    ...(item.ack !== undefined && { ack: storableText(item.ack) }),
    ...(item.error !== undefined && { error: storableText(item.error) }),
  };
}

function toInsertRow(item: NewInboxItem, now: Date): Record<string, unknown> {
  const receivedAt = toDbTime(item.receivedAt ?? now);
  const rejected = item.status === 'rejected';
  return {
    source: item.source,
    dedupe_key: item.dedupeKey,
    format: item.format,
    control_id: item.controlId ?? null,
    raw: item.raw,
    received_at: receivedAt,
    status: rejected ? 'rejected' : 'received',
    error_code: item.errorCode ?? null,
    error: item.error === undefined ? null : oneLine(item.error),
    warnings: null,
    processed_at: rejected ? receivedAt : null,
    ack: item.ack ?? null,
  };
}

function fromRow(row: Record<string, unknown>): InboxRow {
  return {
    id: toId(row.id),
    source: String(row.source),
    dedupeKey: String(row.dedupe_key),
    format: row.format as InboxFormat,
    controlId: optionalText(row.control_id),
    raw: String(row.raw),
    receivedAt: String(row.received_at),
    status: row.status as InboxStatus,
    errorCode: optionalText(row.error_code),
    error: optionalText(row.error),
    warnings: row.warnings === null || row.warnings === undefined ? [] : fromJson<string[]>(row.warnings),
    processedAt: optionalText(row.processed_at),
    ack: optionalText(row.ack),
  };
}
