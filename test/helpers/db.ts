/**
 * Real databases for integration tests (STYLE rule 7): each test file gets its own PostgreSQL schema and its own
 * SQLite file, both removed after the file; every case opens (and closes) its own store on them.
 *
 * - `DB=sqlite|postgres` picks one engine; unset runs both.
 * - PostgreSQL comes from TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/test). When it cannot be
 *   reached the postgres half is skipped with the reason in its title — unless REQUIRE_PG=1 (CI), where it runs
 *   and fails.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knex from 'knex';
import { openStore, STORE_TABLES, type Store, type StoreOptions } from '../../src/store';

export type TestDialect = 'sqlite' | 'postgres';

export interface TestDatabase {
  readonly dialect: TestDialect;
  /** Set when this engine's tests are skipped, saying why. */
  readonly skipReason?: string;
}

export const TEST_PG_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The engines to test against (see the module comment). */
export function testDatabases(): TestDatabase[] {
  const wanted = process.env.DB ?? '';
  if (wanted !== '' && wanted !== 'sqlite' && wanted !== 'postgres') throw new Error(`DB must be sqlite or postgres, not ${wanted}`);
  const dialects: TestDialect[] = wanted === '' ? ['sqlite', 'postgres'] : [wanted];
  return dialects.map((dialect) => {
    const skipReason = dialect === 'postgres' ? postgresSkipReason() : undefined;
    return skipReason === undefined ? { dialect } : { dialect, skipReason };
  });
}

/** One engine's database for the current test file. */
export interface TestDb {
  readonly dialect: TestDialect;
  /** Options that open this file's database (a second store on it: `openStore(db.options())`). */
  options(): StoreOptions;
  /** Opens a store on this file's database, migrated. The caller closes it. */
  open(): Promise<Store>;
  /** Opens a migrated store with every table emptied, runs `fn`, and closes the store whatever happens. */
  withStore<T>(fn: (store: Store) => Promise<T>): Promise<T>;
}

/**
 * `describe` once per engine, named `<title> [sqlite]` / `<title> [postgres]`, giving the body that engine's
 * TestDb. A skipped engine still lists its tests, as skipped, with the reason in the title.
 */
export function describeEachDatabase(title: string, body: (db: TestDb) => void): void {
  for (const target of testDatabases()) {
    if (target.skipReason !== undefined) {
      console.warn(`${title}: PostgreSQL tests skipped: ${target.skipReason}`);
      describe.skip(`${title} [${target.dialect}] (skipped: ${target.skipReason})`, () => body(useTestDb(target.dialect)));
    } else {
      describe(`${title} [${target.dialect}]`, () => body(useTestDb(target.dialect)));
    }
  }
}

/**
 * Registers beforeAll/afterAll creating and removing this file's database for `dialect`. `extra`: more options
 * for every store opened on it (e.g. `acceptInWorker`).
 */
export function useTestDb(dialect: TestDialect, extra: Partial<StoreOptions> = {}): TestDb {
  let options: StoreOptions | undefined;
  let cleanup: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    if (dialect === 'postgres') {
      const schema = `pb_${randomBytes(6).toString('hex')}`;
      await withAdmin((admin) => admin.raw('CREATE SCHEMA ??', [schema]));
      options = { url: TEST_PG_URL, schema, ...extra };
      cleanup = () => withAdmin((admin) => admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]));
    } else {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'pb-store-'));
      options = { file: path.join(dir, 'store.db'), ...extra };
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
    }
  });
  afterAll(async () => {
    await cleanup?.();
  });

  const current = (): StoreOptions => {
    if (options === undefined) throw new Error('the test database is set up in beforeAll: use it inside a test');
    return options;
  };
  const open = async (): Promise<Store> => {
    const store = await openStore(current());
    try {
      await store.migrate();
    } catch (e) {
      await store.close();
      throw e;
    }
    return store;
  };
  return {
    dialect,
    options: current,
    open,
    async withStore(fn) {
      const store = await open();
      try {
        for (const table of STORE_TABLES) await store.knex(table).delete();
        return await fn(store);
      } finally {
        await store.close();
      }
    },
  };
}

async function withAdmin<T>(fn: (admin: knex.Knex) => Promise<T>): Promise<T> {
  const admin = knex({ client: 'pg', connection: TEST_PG_URL, pool: { min: 0, max: 1 } });
  try {
    return await fn(admin);
  } finally {
    await admin.destroy();
  }
}

let probed: { reason: string | undefined } | undefined;

/** Why PostgreSQL tests cannot run here, or undefined when they can (always undefined with REQUIRE_PG=1). */
function postgresSkipReason(): string | undefined {
  if (process.env.REQUIRE_PG === '1') return undefined;
  probed ??= { reason: probePostgres() };
  return probed.reason;
}

function probePostgres(): string | undefined {
  // Jest registers tests synchronously, so the probe runs in a child process.
  const probe = `
    const { Client } = require('pg');
    const c = new Client({ connectionString: process.argv[1], connectionTimeoutMillis: 3000 });
    c.connect().then(() => c.query('SELECT 1')).then(() => c.end()).then(
      () => process.exit(0),
      (e) => { process.stdout.write(String(e.code || e.message)); process.exit(1); });`;
  const result = spawnSync(process.execPath, ['-e', probe, TEST_PG_URL], { cwd: path.resolve(__dirname, '..', '..'), timeout: 10_000, encoding: 'utf8' });
  if (result.status === 0) return undefined;
  const detail = (result.stdout ?? '').trim() || result.error?.message || 'no answer';
  return `PostgreSQL not reachable at ${redact(TEST_PG_URL)} (${detail}); set REQUIRE_PG=1 to fail instead`;
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/u, '//$1:***@');
}
