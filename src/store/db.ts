/**
 * The database handle every store function takes first, and the few places the two engines differ.
 * A `Db` is a Knex instance or a transaction (a transaction is a Knex too): functions that need several
 * statements to be atomic open a (nested, i.e. savepoint) transaction on whatever they are given.
 */
import type { Knex } from 'knex';

export type Db = Knex;
export type Dialect = 'sqlite' | 'postgres';

/** The engine behind a handle (works on transactions too). */
export function dialectOf(db: Db): Dialect {
  const client = String((db.client as { config: { client: unknown } }).config.client);
  return client === 'pg' || client === 'postgres' || client === 'postgresql' ? 'postgres' : 'sqlite';
}

/**
 * Locks the selected rows on PostgreSQL (`FOR UPDATE`, with `SKIP LOCKED` when asked). SQLite has no row locks
 * (knex throws on `.skipLocked()` there); its writers are serialised by `writeTransaction` instead.
 */
export function lockRows(db: Db, options: { skipLocked?: boolean } = {}): (q: Knex.QueryBuilder) => void {
  return (q) => {
    if (dialectOf(db) !== 'postgres') return;
    q.forUpdate();
    if (options.skipLocked === true) q.skipLocked();
  };
}

/**
 * A transaction that will write after reading. On SQLite it takes the write lock first (the effect of
 * `BEGIN IMMEDIATE`, which knex cannot issue): a deferred transaction that reads, then writes after another
 * process committed fails at once with SQLITE_BUSY instead of waiting for `busy_timeout`. The no-op UPDATE is
 * enough to take the lock (it needs the migrated `cursors` table). On PostgreSQL it is a plain transaction; rows
 * are locked with `lockRows`.
 */
export async function writeTransaction<T>(db: Db, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  return db.transaction(async (trx) => {
    if (dialectOf(trx) === 'sqlite') await trx.raw('UPDATE cursors SET name = name WHERE 0');
    return work(trx);
  });
}

/** Splits `items` into chunks of at most `size` (SQLite limits compound selects and bound variables). */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The distinct values, sorted (a stable lock order on PostgreSQL, and no duplicate rows in one upsert). */
export function distinctSorted(values: Iterable<string>): string[] {
  return [...new Set(values)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
