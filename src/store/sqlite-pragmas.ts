/** The SQLite `synchronous` settings the store offers: FULL (the default) survives power loss with WAL. */
export type SqliteSynchronous = 'FULL' | 'NORMAL';

/**
 * The settings every SQLite connection of the store gets, knex's pooled one and the inbox writer thread's alike
 * (accept-worker.ts): WAL, the chosen durability, a wait of up to 5 s for another connection's write lock
 * (another process's, or the other thread's), and foreign keys enforced.
 */
export function configureSqlite(conn: { pragma(source: string): unknown }, synchronous: SqliteSynchronous): void {
  conn.pragma('journal_mode = WAL');
  conn.pragma(`synchronous = ${synchronous}`);
  conn.pragma('busy_timeout = 5000');
  conn.pragma('foreign_keys = ON');
}
