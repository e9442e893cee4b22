/**
 * Opening the store: SQLite (better-sqlite3, WAL, the embedded default) or PostgreSQL (production, scale-out),
 * one code path (DESIGN §9). The Store groups every store function bound to its connection; callers outside
 * src/store use these and `transaction`, never knex.
 */
import path from 'node:path';
import knex, { type Knex } from 'knex';
import { BridgeError } from '../errors';
import type { Db, Dialect } from './db';
import { writeTransaction } from './db';
import { migrationSource } from './migrations';
import { SqliteAcceptWorker } from './accept-offload';
import { acceptInboxVia } from './inbox-accept';
import { configureSqlite, type SqliteSynchronous } from './sqlite-pragmas';
import { storeUnavailableReason, toStoreError } from './store-errors';
import * as audit from './audit';
import * as conflicts from './conflicts';
import * as cursors from './cursors';
import * as inbox from './inbox';
import * as jobs from './jobs';
import * as ledger from './ledger';
import * as snapshots from './snapshots';
import * as welcomeTriggers from './welcome-triggers';

export interface StoreOptions {
  /** `postgres://…` or `postgresql://…`: PostgreSQL. */
  readonly url?: string;
  /** SQLite database file (created when missing); `:memory:` for a private in-memory database. */
  readonly file?: string;
  /** PostgreSQL schema to work in (created by `migrate`); default: the server's search_path. */
  readonly schema?: string;
  /** SQLite `synchronous` pragma. FULL (default) survives power loss with WAL; NORMAL may lose the last commits. */
  readonly synchronous?: SqliteSynchronous;
  /**
   * SQLite file only: run top-level `inbox.acceptInbox` batches on a writer thread with its own connection
   * (accept-offload.ts), so a connector's event loop is not blocked while a commit waits for the disk. The daemon
   * turns it on; off by default (one connection, one thread).
   */
  readonly acceptInWorker?: boolean;
  /** PostgreSQL pool size (default 10). SQLite always uses one connection. */
  readonly poolMax?: number;
}

const MODULES = {
  inbox: {
    acceptInbox: inbox.acceptInbox, setAck: inbox.setAck, nextUnprocessed: inbox.nextUnprocessed, markProcessed: inbox.markProcessed,
    reprocessInbox: inbox.reprocessInbox, getInbox: inbox.getInbox, listRejected: inbox.listRejected, pruneProcessed: inbox.pruneProcessed, channelStats: inbox.channelStats, inboxCounts: inbox.inboxCounts,
  },
  snapshots: {
    applySnapshotOps: snapshots.applySnapshotOps, loadSnapshot: snapshots.loadSnapshot, listPatientIds: snapshots.listPatientIds, contactsByKeys: snapshots.contactsByKeys,
    loadNeighbourhood: snapshots.loadNeighbourhood,
  },
  jobs: {
    enqueue: jobs.enqueue, claim: jobs.claim, complete: jobs.complete, fail: jobs.fail, getJob: jobs.getJob, listFailed: jobs.listFailed,
    requeue: jobs.requeue, counts: jobs.counts, nextDueAt: jobs.nextDueAt,
  },
  ledger: {
    getAccount: ledger.getAccount, getAccountByPortalId: ledger.getAccountByPortalId, upsertAccount: ledger.upsertAccount,
    setAccountStatus: ledger.setAccountStatus, rekeyAccount: ledger.rekeyAccount, listAccounts: ledger.listAccounts, upsertLink: ledger.upsertLink, listLinks: ledger.listLinks, countLinks: ledger.countLinks,
    listLinksOfPatient: ledger.listLinksOfPatient, recordInvitationIntent: ledger.recordInvitationIntent,
    recordInvitationResult: ledger.recordInvitationResult, getInvitation: ledger.getInvitation, listInvitations: ledger.listInvitations,
    recordSideEffectIntent: ledger.recordSideEffectIntent, recordSideEffectResult: ledger.recordSideEffectResult,
    getSideEffect: ledger.getSideEffect, listPendingSideEffects: ledger.listPendingSideEffects,
  },
  audit: { appendAudit: audit.appendAudit, listAudit: audit.listAudit, countAuditOps: audit.countAuditOps },
  conflicts: { upsertConflict: conflicts.upsertConflict, resolveConflict: conflicts.resolveConflict, getConflict: conflicts.getConflict, listConflicts: conflicts.listConflicts },
  welcomeTriggers: { addWelcomeTriggers: welcomeTriggers.addWelcomeTriggers, listWelcomeTriggers: welcomeTriggers.listWelcomeTriggers, deleteWelcomeTriggers: welcomeTriggers.deleteWelcomeTriggers },
  cursors: { getCursor: cursors.getCursor, setCursor: cursors.setCursor, deleteCursor: cursors.deleteCursor },
} as const;

type Bound<F> = F extends (db: Db, ...args: infer A) => infer R ? (...args: A) => R : never;
/** Every store function, grouped by module, bound to one connection or transaction. */
export type StoreOps = { readonly [M in keyof typeof MODULES]: { readonly [F in keyof (typeof MODULES)[M]]: Bound<(typeof MODULES)[M][F]> } };

export interface Store extends StoreOps {
  readonly dialect: Dialect;
  /** For src/store modules and tests only. */
  readonly knex: Knex;
  /** Runs the migrations not yet applied (idempotent; on PostgreSQL creates `schema` first). Returns their names. */
  migrate(): Promise<string[]>;
  /** The migrations not yet applied, by name ([] when up to date). Reads only: creates nothing, not even knex's table. */
  pendingMigrations(): Promise<string[]>;
  /**
   * Runs `work` in one transaction (SQLite: holding the write lock), committed when it resolves, rolled back when
   * it throws. Use `tx` inside, never the store itself: on SQLite the store's one connection is the transaction's
   * and a call on the store would wait for it. No portal call inside (DESIGN §5).
   */
  transaction<T>(work: (tx: StoreOps) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * Opens the store and checks that the database answers. Errors: ERR_CONFIG_INVALID (options, or the server
 * refused us: authentication, unknown database), ERR_STORE_UNAVAILABLE (not reachable, busy).
 */
export async function openStore(options: StoreOptions): Promise<Store> {
  const { dialect, db } = createKnex(options);
  try {
    await db.raw('SELECT 1');
  } catch (e) {
    await db.destroy();
    const reason = storeUnavailableReason(e);
    if (reason !== undefined) throw toStoreError(e);
    throw new BridgeError('ERR_CONFIG_INVALID', `store: cannot open the database (${openFailure(dialect, e)})`, { cause: e });
  }
  const writer = acceptWriter(dialect, options);
  const ops = bindOps(db, writer);
  return {
    ...ops,
    dialect,
    knex: db,
    async migrate() {
      try {
        return await migrateLatest(db, dialect, options.schema);
      } catch (e) {
        throw toStoreError(e);
      }
    },
    async pendingMigrations() {
      try {
        const all = (await migrationSource.getMigrations([])).map((m) => migrationSource.getMigrationName(m));
        if (!(await db.schema.hasTable('knex_migrations'))) return all;
        const applied = new Set(((await db('knex_migrations').select('name')) as { name: string }[]).map((r) => r.name));
        return all.filter((name) => !applied.has(name));
      } catch (e) {
        throw toStoreError(e);
      }
    },
    async transaction<T>(work: (tx: StoreOps) => Promise<T>): Promise<T> {
      try {
        return await writeTransaction(db, (trx) => work(bindOps(trx)));
      } catch (e) {
        throw toStoreError(e);
      }
    },
    async close() {
      await writer?.close();
      await db.destroy();
    },
  };
}

/**
 * On PostgreSQL, daemons starting together migrate one after the other: a transaction-level advisory lock is held
 * (on one pooled connection) while knex migrates (on another), so the second finds nothing left to do instead of
 * failing on knex's own migration lock. SQLite is one daemon per file.
 */
async function migrateLatest(db: Knex, dialect: Dialect, schema: string | undefined): Promise<string[]> {
  const latest = async (): Promise<string[]> => {
    const [, names] = (await db.migrate.latest()) as [number, string[]];
    return names;
  };
  if (dialect === 'sqlite') return latest();
  const serialised = <T>(work: (trx: Knex.Transaction) => Promise<T>): Promise<T> =>
    db.transaction(async (trx) => {
      await trx.raw('SELECT pg_advisory_xact_lock(hashtextextended(?, 0))', [`portal-bridge:migrate:${schema ?? ''}`]);
      return work(trx);
    });
  // The schema is committed first: knex migrates on other pooled connections, which must see it.
  if (schema !== undefined) await serialised((trx) => trx.raw('CREATE SCHEMA IF NOT EXISTS ??', [schema]));
  return serialised(latest);
}

/** A staff-safe reason an open failed: pg's SQLSTATE (e.g. 28P01 authentication, 3D000 no such database), or
 * better-sqlite3's message (it names no data). */
function openFailure(dialect: Dialect, e: unknown): string {
  const { code, message } = (typeof e === 'object' && e !== null ? e : {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string') return code;
  if (dialect === 'sqlite' && typeof message === 'string') return message;
  return 'unknown reason';
}

/** The writer thread for `acceptInWorker` (a SQLite file), started at its first batch. */
function acceptWriter(dialect: Dialect, options: StoreOptions): SqliteAcceptWorker | undefined {
  if (options.acceptInWorker !== true || dialect !== 'sqlite' || options.file === undefined || options.file === ':memory:') return undefined;
  return new SqliteAcceptWorker({ file: path.resolve(options.file), synchronous: options.synchronous ?? 'FULL' });
}

function createKnex(options: StoreOptions): { dialect: Dialect; db: Knex } {
  const { url, file, schema } = options;
  if ((url === undefined) === (file === undefined)) {
    throw new BridgeError('ERR_CONFIG_INVALID', 'store: give exactly one of url (PostgreSQL) or file (SQLite)');
  }
  if (url !== undefined) {
    if (!/^postgres(ql)?:\/\//u.test(url)) throw new BridgeError('ERR_CONFIG_INVALID', 'store: url must start with postgres:// or postgresql://');
    if (options.poolMax !== undefined && options.poolMax < 2) throw new BridgeError('ERR_CONFIG_INVALID', 'store: poolMax must be at least 2');
    return {
      dialect: 'postgres',
      db: knex({
        client: 'pg',
        connection: { connectionString: url, application_name: 'portal-bridge' },
        ...(schema === undefined ? {} : { searchPath: [schema] }),
        pool: { min: 0, max: options.poolMax ?? 10 },
        log: QUIET,
        migrations: { migrationSource, ...(schema === undefined ? {} : { schemaName: schema }) },
      }),
    };
  }
  if (schema !== undefined) throw new BridgeError('ERR_CONFIG_INVALID', 'store: schema applies to PostgreSQL only');
  const synchronous = options.synchronous ?? 'FULL';
  if (synchronous !== 'FULL' && synchronous !== 'NORMAL') throw new BridgeError('ERR_CONFIG_INVALID', 'store: synchronous must be FULL or NORMAL');
  return {
    dialect: 'sqlite',
    db: knex({
      client: 'better-sqlite3',
      connection: { filename: file ?? ':memory:' },
      useNullAsDefault: true,
      // One connection: better-sqlite3 is synchronous, so a second connection in this process waiting on the
      // first one's lock would block the event loop the first one needs to finish. `:memory:` is per connection.
      pool: {
        min: 1,
        max: 1,
        afterCreate(conn: SqliteConnection, done: (err: Error | null, conn: SqliteConnection) => void) {
          try {
            configureSqlite(conn, synchronous);
            cacheStatements(conn);
            done(null, conn);
          } catch (e) {
            done(e as Error, conn);
          }
        },
      },
      migrations: { migrationSource },
      log: QUIET,
    }),
  };
}

// knex would print its warnings ("Acquire connection error" …) to the console, outside our JSON logs; every
// failure reaches the caller as an error anyway.
const QUIET = { warn() {}, error() {}, deprecate() {}, debug() {} };

interface SqliteConnection {
  pragma(source: string): unknown;
  prepare(sql: string): unknown;
}

/** Statements kept per connection (least recently used dropped beyond this). */
const STATEMENT_CACHE = 500;

/**
 * knex's better-sqlite3 dialect prepares every query's SQL again (about a tenth of the CPU of a reconcile run).
 * The store's queries repeat a few hundred SQL texts, so the connection keeps their prepared statements. Safe:
 * knex runs a statement to completion (`all` / `run`, synchronous) before it prepares the next, and SQLite
 * re-prepares a statement itself when the schema changed (a migration).
 */
function cacheStatements(conn: SqliteConnection): void {
  const prepare = conn.prepare.bind(conn);
  const cache = new Map<string, unknown>();
  conn.prepare = (sql: string): unknown => {
    let statement = cache.get(sql);
    if (statement === undefined) {
      statement = prepare(sql);
      if (cache.size >= STATEMENT_CACHE) cache.delete(cache.keys().next().value as string);
    } else cache.delete(sql);
    cache.set(sql, statement);
    return statement;
  };
}

/** Binds every store function to `db`; database failures worth retrying surface as ERR_STORE_UNAVAILABLE. */
function bindOps(db: Db, writer?: SqliteAcceptWorker): StoreOps {
  const ops: Record<string, Record<string, unknown>> = {};
  // With the writer thread, top-level inbox batches go there (never a transaction's: those bind without it).
  const modules =
    writer === undefined
      ? MODULES
      : { ...MODULES, inbox: { ...MODULES.inbox, acceptInbox: (d: Db, items: Parameters<typeof inbox.acceptInbox>[1], o: Parameters<typeof inbox.acceptInbox>[2] = {}) => acceptInboxVia(d, items, o, (rows) => writer.accept(rows)) } };
  for (const [moduleName, functions] of Object.entries(modules)) {
    const bound: Record<string, unknown> = {};
    for (const [name, fn] of Object.entries(functions)) {
      const call = fn as (db: Db, ...args: unknown[]) => Promise<unknown>;
      bound[name] = async (...args: unknown[]) => {
        try {
          return await call(db, ...args);
        } catch (e) {
          throw toStoreError(e);
        }
      };
    }
    ops[moduleName] = bound;
  }
  return ops as unknown as StoreOps;
}
