/**
 * For commands that read and change the support queue: load the configuration (config/default.yaml →
 * config/<env>.yaml → `--config` files → PORTAL_BRIDGE_* environment), then open the store it names, which must
 * exist and be migrated. A bad config, a missing or unmigrated database, or one that refuses us is a UsageError
 * (exit 2); one that cannot be reached is an Error (exit 1). Unlike `start`, nothing is created or migrated.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { formatConfigProblems, loadConfig } from '../config/load';
import type { Config } from '../config/schema';
import { openConfiguredStore } from '../daemon';
import { isBridgeError } from '../errors';
import type { Store } from '../store';
import { UsageError } from './io';

export interface MigratedStore {
  readonly config: Config;
  readonly store: Store;
}

/** Opens the configured, migrated store; the caller closes it (see withMigratedStore). */
export async function openMigratedStore(configFiles: readonly string[]): Promise<MigratedStore> {
  const loaded = loadConfig({ files: configFiles });
  if (!loaded.ok) throw new UsageError(`the configuration has ${loaded.problems.length} problem(s):\n${indent(formatConfigProblems(loaded.problems))}`);
  const { config } = loaded;
  const where = databaseLocation(config);
  const { url, file } = config.database;
  // openStore would create a missing SQLite file: a typo in the path must not look like an empty queue.
  if (url === undefined && (file === ':memory:' || !existsSync(path.resolve(file)))) {
    throw new UsageError(`no database at ${where}: run \`portal-bridge migrate\` first (or set database.file / PORTAL_BRIDGE_DATABASE_FILE)`);
  }
  let store: Store;
  try {
    store = await openConfiguredStore(config);
  } catch (e) {
    if (isBridgeError(e) && e.code === 'ERR_CONFIG_INVALID') throw new UsageError(`${e.message.replace(/^store: /u, '')} (${where})`);
    throw new Error(`cannot reach the database at ${where}${isBridgeError(e) ? ` (${e.message})` : ''}`, { cause: e });
  }
  try {
    const pending = await store.pendingMigrations();
    if (pending.length > 0) {
      throw new UsageError(
        pending.includes('001_inbox')
          ? `no portal-bridge tables in the database at ${where}: run \`portal-bridge migrate\` first`
          : `the database at ${where} needs ${pending.length} migration(s) (${pending.join(', ')}): run \`portal-bridge migrate\``,
      );
    }
  } catch (e) {
    await store.close();
    throw e;
  }
  return { config, store };
}

/** Opens the configured, migrated store, runs `work`, and closes the store whatever happens. */
export async function withMigratedStore<T>(configFiles: readonly string[], work: (opened: MigratedStore) => Promise<T>): Promise<T> {
  const opened = await openMigratedStore(configFiles);
  try {
    return await work(opened);
  } finally {
    await opened.store.close();
  }
}

/** Where the database is, for messages: the SQLite file, or the PostgreSQL host, port and database (never a password). */
export function databaseLocation(config: Config): string {
  const { url, file } = config.database;
  if (url === undefined) return file === ':memory:' ? file : path.resolve(file);
  const u = new URL(url);
  return `postgres://${u.hostname}:${u.port === '' ? '5432' : u.port}${u.pathname}`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
