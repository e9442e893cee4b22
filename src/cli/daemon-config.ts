/** Loading the daemon's configuration and store for `start`, `migrate` and `ingest`. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { formatConfigProblems, loadConfig } from '../config/load';
import type { Config } from '../config/schema';
import { openConfiguredStore } from '../daemon';
import { isBridgeError } from '../errors';
import type { Store } from '../store';
import { EXIT, packageRoot, type CliIo, type ExitCode } from './io';

/** commander's collector for a repeatable `--config <file>`. */
export function collect(value: string, previous: readonly string[]): string[] {
  return [...previous, value];
}

export const CONFIG_HELP = 'config file, after config/default.yaml and config/<env>.yaml (repeatable: later wins)';

/** Loads and validates the configuration; on any problem prints every one (stderr) and returns undefined. */
export function loadCliConfig(files: readonly string[], io: CliIo, refusal = 'nothing was done'): Config | undefined {
  const result = loadConfig({ files });
  if (result.ok) return result.config;
  const lines = formatConfigProblems(result.problems).split('\n');
  io.err(`portal-bridge: the configuration has ${lines.length} problem(s); ${refusal}:\n${lines.map((l) => `  ${l}`).join('\n')}`);
  return undefined;
}

/**
 * The mapping file of `mapping.path`: relative to the working directory; when it is not there, the copy
 * shipped with the package (so the default `mappings/hl7v2-default.yaml` works from any folder).
 */
export function resolveMappingPath(file: string, cwd: string = process.cwd()): string {
  const local = path.resolve(cwd, file);
  if (existsSync(local) || path.isAbsolute(file)) return local;
  const bundled = path.join(packageRoot(), file);
  return existsSync(bundled) ? bundled : local;
}

/**
 * Opens the configured store, runs `work`, closes it. A store the configuration cannot open (bad credentials,
 * no such database) is a config error, exit 2; an unreachable one is exit 1. Other errors propagate.
 */
export async function withCliStore(config: Config, io: CliIo, work: (store: Store) => Promise<ExitCode>): Promise<ExitCode> {
  let store: Store;
  try {
    store = await openConfiguredStore(config);
  } catch (e) {
    return storeOpenFailure(e, config, io);
  }
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/** Exit code and message for a failure to open (or migrate) the store: 2 when the config is at fault, else 1. */
export function storeOpenFailure(e: unknown, config: Config, io: CliIo): ExitCode {
  if (!isBridgeError(e)) throw e;
  io.err(`portal-bridge: cannot use the database (${describeStore(config)}): ${e.message.replace(/^store: /, '')} [${e.code}]`);
  return e.code === 'ERR_CONFIG_INVALID' ? EXIT.usage : EXIT.failure;
}

/** Where the store is, without credentials: the SQLite file, or the PostgreSQL host and database. */
export function describeStore(config: Config): string {
  const { url, file } = config.database;
  if (url === undefined) return `SQLite ${file}`;
  const u = new URL(url);
  return `PostgreSQL ${u.host}${u.pathname}`;
}
