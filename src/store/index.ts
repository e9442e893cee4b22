/**
 * The store (DESIGN §9): the only place knex is used. `openStore` gives a Store whose members group the module
 * functions below, bound to the connection (or to a transaction through `store.transaction`). The functions
 * themselves take a knex handle first, for use inside src/store and in tests.
 *
 * Conventions shared by every module: times are RFC 3339 UTC text (see column-values.ts); functions that record a
 * time take `now` (a clock is never read inside when it is passed); writes are idempotent where the name does not
 * say otherwise; uniqueness is enforced by the database.
 */
export { openStore, type Store, type StoreOps, type StoreOptions } from './store';
export type { Db, Dialect } from './db';
export { migrationSource, STORE_TABLES } from './migrations';
export { storeUnavailableReason, toStoreError } from './store-errors';
export * from './inbox';
export * from './snapshots';
export * from './jobs';
export * from './retry-schedule';
export * from './ledger';
export * from './audit';
export * from './conflicts';
export * from './cursors';
export * from './welcome-triggers';
