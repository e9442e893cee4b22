/**
 * The inbox (DESIGN §2, §6): every input exactly as received, committed before the connector ACKs it or advances
 * its cursor. `(source, dedupe_key)` is unique, so a retransmission is stored once and its stored ACK replayed.
 */
import type { Db } from './db';
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

export { acceptInbox } from './inbox-accept';

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
