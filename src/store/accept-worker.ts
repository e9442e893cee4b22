/**
 * The inbox writer thread (accept-offload.ts starts it): its own better-sqlite3 connection to the store's file,
 * configured like knex's (sqlite-pragmas.ts), running each batch it is sent exactly as the store's connection
 * would (inbox-accept.ts `runSqliteBatch`: BEGIN IMMEDIATE, cached statements, counters in the same
 * transaction). The commit and its fsync block this thread only, so the connector's event loop keeps reading,
 * judging and answering while the disk works.
 *
 * Messages in: `{ id, rows }` (a batch) or `{ close: true }`. Out: `{ id, result }` or `{ id, error }`, the
 * error as `{ message, code }` so the store classes it (SQLITE_BUSY is transient) as it would its own.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { runSqliteBatch, type Row, type SqliteConnection } from './inbox-accept';
import { configureSqlite, type SqliteSynchronous } from './sqlite-pragmas';

export interface AcceptWorkerSetup {
  readonly file: string;
  readonly synchronous: SqliteSynchronous;
}

export type AcceptWorkerRequest = { readonly id: number; readonly rows: readonly Row[] } | { readonly close: true };

export type AcceptWorkerReply =
  | { readonly id: number; readonly result: ReturnType<typeof runSqliteBatch> }
  | { readonly id: number; readonly error: { readonly message: string; readonly code?: string } };

function errorParts(e: unknown): { message: string; code?: string } {
  const { message, code } = (typeof e === 'object' && e !== null ? e : {}) as { message?: unknown; code?: unknown };
  return { message: typeof message === 'string' ? message : String(e), ...(typeof code === 'string' && { code }) };
}

function serve(): void {
  const port = parentPort;
  if (port === null) throw new Error('accept-worker.ts runs as a worker thread (accept-offload.ts starts it)');
  const setup = workerData as AcceptWorkerSetup;
  // fileMustExist: the store opened (and migrated) the file first; a vanished file is an error, not a new store.
  let conn: Database.Database;
  try {
    conn = new Database(setup.file, { fileMustExist: true });
    configureSqlite(conn, setup.synchronous);
  } catch (e) {
    // A plain Error: the thread's 'error' event carries it to the store with its message.
    throw new Error(errorParts(e).message, { cause: e });
  }
  port.on('message', (message: AcceptWorkerRequest) => {
    if ('close' in message) {
      conn.close();
      port.close();
      return;
    }
    let reply: AcceptWorkerReply;
    try {
      reply = { id: message.id, result: runSqliteBatch(conn as unknown as SqliteConnection, message.rows) };
    } catch (e) {
      reply = { id: message.id, error: errorParts(e) };
    }
    port.postMessage(reply);
  });
}

serve();
