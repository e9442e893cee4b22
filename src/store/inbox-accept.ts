/**
 * Storing input in the inbox: the hot path of every connector (the MLLP listener commits here before each ACK),
 * so it is one round trip per batch on both engines instead of a query-builder transaction of five statements.
 * Same SQL semantics on both, checked by the same tests (test/integration/inbox.int.test.ts):
 *
 * - SQLite: the batch runs synchronously on the store's one better-sqlite3 connection, taken from knex's pool
 *   (or the caller's transaction), with cached prepared statements, in `BEGIN IMMEDIATE` (a savepoint inside the
 *   caller's transaction).
 * - PostgreSQL: ONE statement (its own transaction, or part of the caller's): the rows arrive as arrays and are
 *   unnested, inserted with ON CONFLICT DO NOTHING, and the channel counters upserted, in data-modifying CTEs.
 *   A batch of one channel (every connector's) is a named prepared statement (parsed and planned once per
 *   connection) and reads the rows already stored afterwards, only when there are some; a mixed batch reads them
 *   in the same statement.
 */
import type { Db } from './db';
import { dialectOf } from './db';
import { oneLine, optionalText, toDbTime, toId } from './column-values';
import type { AcceptResult, NewInboxItem } from './inbox';

/** One row to insert, in column order (also what the SQLite writer thread receives: accept-worker.ts). */
export interface Row {
  readonly source: string;
  readonly dedupeKey: string;
  readonly format: string;
  readonly controlId: string | null;
  readonly raw: string | null;
  readonly receivedAt: string;
  readonly status: 'received' | 'rejected';
  readonly errorCode: string | null;
  readonly error: string | null;
  readonly processedAt: string | null;
  readonly ack: string | null;
}

interface Stored {
  readonly id: number;
  readonly ack?: string;
}

/** What a batch stored: new rows and rows already there, by `itemKey`. */
export interface BatchResult {
  readonly inserted: Map<string, Stored>;
  readonly existing: Map<string, Stored>;
}

/** Runs a SQLite batch somewhere else (the writer thread, accept-offload.ts) instead of on `db`'s connection. */
export type SqliteBatchWriter = (rows: readonly Row[]) => Promise<BatchResult>;

/**
 * Stores a batch of inputs in ONE transaction (group commit: the listener passes everything that arrived while
 * the previous commit ran) and returns, in input order, each item's id and whether it was a duplicate. A duplicate
 * returns the stored row's id and ACK; nothing of it is written. The channel counters (`channelStats`) move in the
 * same transaction. Idempotent. Inside a caller's transaction (`db` a knex transaction) it joins it.
 */
export async function acceptInbox(db: Db, given: readonly NewInboxItem[], options: { now?: Date } = {}): Promise<AcceptResult[]> {
  return acceptInboxVia(db, given, options, undefined);
}

/** acceptInbox, a SQLite batch running on `writer` when given (the store's writer thread) instead of `db`. */
export async function acceptInboxVia(db: Db, given: readonly NewInboxItem[], options: { now?: Date }, writer: SqliteBatchWriter | undefined): Promise<AcceptResult[]> {
  if (given.length === 0) return [];
  const now = options.now ?? new Date();
  const rows = given.map((item) => toRow(storableItem(item), now));
  const { inserted, existing } =
    dialectOf(db) === 'postgres' ? await acceptPostgres(db, rows) : writer === undefined ? await acceptSqlite(db, rows) : await writer(rows);
  const seen = new Set<string>();
  return rows.map((row) => {
    const key = itemKey(row.source, row.dedupeKey);
    const fresh = inserted.get(key);
    const firstTime = fresh !== undefined && !seen.has(key);
    seen.add(key);
    const stored = fresh ?? existing.get(key);
    if (stored === undefined) throw new Error('inbox row vanished inside its transaction');
    return { id: stored.id, duplicate: !firstTime, ...(stored.ack === undefined ? {} : { ack: stored.ack }) };
  });
}

// ------------------------------------------------------------------------------------------------------------
// SQLite

interface SqliteStatement {
  get(...params: unknown[]): unknown;
  run(...params: unknown[]): unknown;
}
/** The part of a better-sqlite3 connection the batch uses. */
export interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
  transaction<F extends (...args: never[]) => unknown>(fn: F): F & { immediate: F };
}
interface SqliteStatements {
  readonly insert: SqliteStatement;
  readonly find: SqliteStatement;
  readonly count: SqliteStatement;
  readonly batch: (rows: readonly Row[]) => BatchResult;
}

/** Adds a batch's counts to its channel's row (both engines). */
const ADD_TO_COUNTERS = `ON CONFLICT (source) DO UPDATE SET
    received = channel_stats.received + excluded.received,
    accepted = channel_stats.accepted + excluded.accepted,
    rejected = channel_stats.rejected + excluded.rejected,
    duplicate = channel_stats.duplicate + excluded.duplicate,
    last_message_at = CASE WHEN excluded.last_message_at > channel_stats.last_message_at THEN excluded.last_message_at ELSE channel_stats.last_message_at END`;

const COUNT_SQL = `INSERT INTO channel_stats (source, received, accepted, rejected, duplicate, last_message_at) VALUES (?, ?, ?, ?, ?, ?)
${ADD_TO_COUNTERS}`;

const statementCache = new WeakMap<object, SqliteStatements>();

function sqliteStatements(conn: SqliteConnection): SqliteStatements {
  const cached = statementCache.get(conn);
  if (cached !== undefined) return cached;
  const insert = conn.prepare(
    `INSERT INTO inbox (source, dedupe_key, format, control_id, raw, received_at, status, error_code, error, processed_at, ack)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, dedupe_key) DO NOTHING RETURNING id, ack`,
  );
  const find = conn.prepare('SELECT id, ack FROM inbox WHERE source = ? AND dedupe_key = ?');
  const count = conn.prepare(COUNT_SQL);
  const batch = conn.transaction((rows: readonly Row[]) => {
    const inserted = new Map<string, Stored>();
    const existing = new Map<string, Stored>();
    const counts = new Map<string, Counts>();
    for (const row of rows) {
      const key = itemKey(row.source, row.dedupeKey);
      const c = countsOf(counts, row);
      if (inserted.has(key) || existing.has(key)) {
        c.duplicate += 1;
        continue;
      }
      const fresh = insert.get(row.source, row.dedupeKey, row.format, row.controlId, row.raw, row.receivedAt, row.status, row.errorCode, row.error, row.processedAt, row.ack) as
        | { id: unknown; ack: unknown }
        | undefined;
      if (fresh !== undefined) {
        inserted.set(key, stored(fresh));
        if (row.status === 'rejected') c.rejected += 1;
        else c.accepted += 1;
      } else {
        existing.set(key, stored(find.get(row.source, row.dedupeKey) as { id: unknown; ack: unknown }));
        c.duplicate += 1;
      }
    }
    for (const [source, c] of counts) count.run(source, c.received, c.accepted, c.rejected, c.duplicate, c.last);
    return { inserted, existing };
  });
  const statements = { insert, find, count, batch: (rows: readonly Row[]) => batch.immediate(rows) };
  statementCache.set(conn, statements);
  return statements;
}

/** One batch on a raw better-sqlite3 connection, in `BEGIN IMMEDIATE` (a savepoint inside a transaction). */
export function runSqliteBatch(conn: SqliteConnection, rows: readonly Row[]): BatchResult {
  return sqliteStatements(conn).batch(rows);
}

async function acceptSqlite(db: Db, rows: readonly Row[]): Promise<BatchResult> {
  // The store's one connection (or the caller's transaction's): knex hands it out only when no other transaction
  // of this process holds it, so this never interleaves with another writer.
  const conn = (await db.client.acquireConnection()) as SqliteConnection;
  try {
    return runSqliteBatch(conn, rows);
  } finally {
    await db.client.releaseConnection(conn);
  }
}

// ------------------------------------------------------------------------------------------------------------
// PostgreSQL

const POSTGRES_SQL = `
WITH input AS (
  SELECT * FROM unnest(?::int[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[])
    AS t(ord, source, dedupe_key, format, control_id, raw, received_at, status, error_code, error, processed_at, ack)
), ins AS (
  INSERT INTO inbox (source, dedupe_key, format, control_id, raw, received_at, status, error_code, error, processed_at, ack)
  SELECT source, dedupe_key, format, control_id, raw, received_at, status, error_code, error, processed_at, ack FROM input ORDER BY ord
  ON CONFLICT (source, dedupe_key) DO NOTHING
  RETURNING id, source, dedupe_key, status, ack
), old AS (
  -- One unique-index probe per key (LATERAL): a join could scan the whole inbox when the planner guesses wrong.
  SELECT i.id, i.source, i.dedupe_key, i.ack FROM (SELECT DISTINCT source, dedupe_key FROM input) k
  CROSS JOIN LATERAL (SELECT id, source, dedupe_key, ack FROM inbox WHERE inbox.source = k.source AND inbox.dedupe_key = k.dedupe_key) i
), received AS (
  SELECT source, count(*) AS n, max(received_at) AS last FROM input GROUP BY source
), fresh AS (
  SELECT source, count(*) AS stored, count(*) FILTER (WHERE status = 'received') AS accepted, count(*) FILTER (WHERE status = 'rejected') AS rejected
  FROM ins GROUP BY source
), counted AS (
  INSERT INTO channel_stats (source, received, accepted, rejected, duplicate, last_message_at)
  SELECT r.source, r.n, coalesce(f.accepted, 0), coalesce(f.rejected, 0), r.n - coalesce(f.stored, 0), r.last FROM received r LEFT JOIN fresh f USING (source)
  ORDER BY r.source
${ADD_TO_COUNTERS}
)
SELECT true AS fresh, id, source, dedupe_key, ack FROM ins
UNION ALL
SELECT false AS fresh, id, source, dedupe_key, ack FROM old`;

/** The row columns after `source`, each as an array (node-postgres sends it as a PostgreSQL array). */
function rowColumns(rows: readonly Row[]): unknown[][] {
  const keys = ['dedupeKey', 'format', 'controlId', 'raw', 'receivedAt', 'status', 'errorCode', 'error', 'processedAt', 'ack'] as const;
  return keys.map((k) => rows.map((r) => r[k]));
}

/**
 * The common case — every row of the batch on one channel (a connector's group commit) — as a lighter statement:
 * the insert and the channel's counters only. Rows already stored (retransmissions, rare) are read afterwards.
 */
const POSTGRES_ONE_SOURCE_SQL = `
WITH ins AS (
  INSERT INTO inbox (source, dedupe_key, format, control_id, raw, received_at, status, error_code, error, processed_at, ack)
  SELECT ?::text, dedupe_key, format, control_id, raw, received_at, status, error_code, error, processed_at, ack
  FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[]) WITH ORDINALITY
    AS t(dedupe_key, format, control_id, raw, received_at, status, error_code, error, processed_at, ack, ord)
  ORDER BY ord
  ON CONFLICT (source, dedupe_key) DO NOTHING
  RETURNING id, dedupe_key, status, ack
), counted AS (
  INSERT INTO channel_stats (source, received, accepted, rejected, duplicate, last_message_at)
  SELECT ?::text, ?::bigint, count(*) FILTER (WHERE status = 'received'), count(*) FILTER (WHERE status = 'rejected'), ?::bigint - count(*), ?::text FROM ins
${ADD_TO_COUNTERS}
)
SELECT id, dedupe_key, ack FROM ins`;

/** A statement PostgreSQL keeps parsed (and, after a few runs, planned) per connection: `name` and `$n` text. */
interface PreparedSql {
  readonly name: string;
  readonly sql: string;
  readonly text: string;
}

function prepared(name: string, sql: string): PreparedSql {
  let n = 0;
  return { name, sql, text: sql.replace(/\?/g, () => `$${++n}`) };
}

const POSTGRES_ONE_SOURCE = prepared('portal_bridge_inbox_accept_one_source', POSTGRES_ONE_SOURCE_SQL);

/**
 * Runs `statement` as a named prepared statement on a pooled connection: parsing and planning it again for every
 * group commit cost as much as running it (about half of the commit, measured). Inside a caller's transaction
 * it runs there, as a plain statement (knex gives no access to the transaction's connection for this).
 */
async function queryPrepared(db: Db, statement: PreparedSql, values: readonly unknown[]): Promise<unknown> {
  if (db.isTransaction === true) return db.raw(statement.sql, values as readonly string[]);
  const conn = (await db.client.acquireConnection()) as { query(config: { name: string; text: string; values: readonly unknown[] }): Promise<unknown> };
  try {
    return await conn.query({ name: statement.name, text: statement.text, values });
  } finally {
    await db.client.releaseConnection(conn);
  }
}

async function acceptPostgresOneSource(db: Db, source: string, rows: readonly Row[]): Promise<BatchResult> {
  const last = rows.reduce((max, r) => (r.receivedAt > max ? r.receivedAt : max), rows[0]?.receivedAt ?? '');
  const bindings: unknown[] = [
    source,
    ...rowColumns(rows),
    source,
    rows.length,
    rows.length,
    last,
  ];
  const result = (await queryPrepared(db, POSTGRES_ONE_SOURCE, bindings)) as { rows: { id: unknown; dedupe_key: string; ack: unknown }[] };
  const inserted = new Map<string, Stored>();
  for (const row of result.rows) inserted.set(itemKey(source, row.dedupe_key), stored(row));
  const existing = new Map<string, Stored>();
  const missing = [...new Set(rows.filter((r) => !inserted.has(itemKey(source, r.dedupeKey))).map((r) => r.dedupeKey))];
  if (missing.length > 0) {
    const found = (await db('inbox').select('id', 'dedupe_key', 'ack').where({ source }).whereIn('dedupe_key', missing)) as { id: unknown; dedupe_key: string; ack: unknown }[];
    for (const row of found) existing.set(itemKey(source, row.dedupe_key), stored(row));
  }
  return { inserted, existing };
}

async function acceptPostgres(db: Db, rows: readonly Row[]): Promise<BatchResult> {
  const source = rows[0]?.source;
  if (source !== undefined && rows.every((r) => r.source === source)) return acceptPostgresOneSource(db, source, rows);
  const bindings: unknown[] = [rows.map((_, i) => i), rows.map((r) => r.source), ...rowColumns(rows)];
  // Each binding is an array (node-postgres sends it as a PostgreSQL array); knex's typings know only scalars.
  const result = (await db.raw(POSTGRES_SQL, bindings as readonly string[])) as { rows: { fresh: boolean; id: unknown; source: string; dedupe_key: string; ack: unknown }[] };
  const inserted = new Map<string, Stored>();
  const existing = new Map<string, Stored>();
  for (const row of result.rows) (row.fresh ? inserted : existing).set(itemKey(row.source, row.dedupe_key), stored(row));
  // A row another session committed while this statement waited on its key is not in this statement's snapshot.
  const missing = rows.filter((r) => !inserted.has(itemKey(r.source, r.dedupeKey)) && !existing.has(itemKey(r.source, r.dedupeKey)));
  for (const r of missing) {
    const found = (await db('inbox').select('id', 'ack').where({ source: r.source, dedupe_key: r.dedupeKey }).first()) as { id: unknown; ack: unknown } | undefined;
    if (found !== undefined) existing.set(itemKey(r.source, r.dedupeKey), stored(found));
  }
  return { inserted, existing };
}

// ------------------------------------------------------------------------------------------------------------

interface Counts {
  received: number;
  accepted: number;
  rejected: number;
  duplicate: number;
  last: string;
}

function countsOf(counts: Map<string, Counts>, row: Row): Counts {
  let c = counts.get(row.source);
  if (c === undefined) {
    c = { received: 0, accepted: 0, rejected: 0, duplicate: 0, last: row.receivedAt };
    counts.set(row.source, c);
  }
  c.received += 1;
  if (row.receivedAt > c.last) c.last = row.receivedAt;
  return c;
}

function stored(row: { id: unknown; ack: unknown }): Stored {
  const ack = optionalText(row.ack);
  return ack === undefined ? { id: toId(row.id) } : { id: toId(row.id), ack };
}

function itemKey(source: string, dedupeKey: string): string {
  return `${source}\u0000${dedupeKey}`;
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

let lastTime = Number.NaN;
let lastText = '';

/** toDbTime, remembering the last one: a batch's rows mostly share their time. */
function dbTime(at: Date): string {
  const t = at.getTime();
  if (t !== lastTime) {
    lastText = toDbTime(at);
    lastTime = t;
  }
  return lastText;
}

function toRow(item: NewInboxItem, now: Date): Row {
  const receivedAt = dbTime(item.receivedAt ?? now);
  const rejected = item.status === 'rejected';
  return {
    source: item.source,
    dedupeKey: item.dedupeKey,
    format: item.format,
    controlId: item.controlId ?? null,
    // A missing text (a caller's bug) reaches the database as NULL and fails its NOT NULL constraint.
    raw: (item.raw as string | undefined) ?? null,
    receivedAt,
    status: rejected ? 'rejected' : 'received',
    errorCode: item.errorCode ?? null,
    error: item.error === undefined ? null : oneLine(item.error),
    processedAt: rejected ? receivedAt : null,
    ack: item.ack ?? null,
  };
}
