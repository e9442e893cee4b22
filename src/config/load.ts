/**
 * Loads the daemon's configuration (DESIGN §10): config/default.yaml → config/<env>.yaml → `--config` files →
 * PORTAL_BRIDGE_* environment → flags, validated once, every problem reported together. The only module that
 * reads process.env (and only when the caller passes no `env`).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { connectorSecretVariable } from '../../connectors/fhir/config';
import { configWarnings } from './describe';
import { CONNECTOR_SECRET, envLayer, fileLayer, flagLayer, isRecord, type ConfigProblem, type Layer, type Origin } from './layers';
import { ConfigSchema, type Config, type ParsedConfig } from './schema';
import { closest, ENV_NAME_VARIABLE, SETTING_BY_KEY } from './settings';

export type { ConfigProblem } from './layers';
export { describeConfig, formatConfigProblem, formatConfigProblems } from './describe';

export interface LoadConfigOptions {
  /** Explicit `--config` files, applied after config/default.yaml and config/<env>.yaml, in order. */
  readonly files?: readonly string[];
  /** The environment; process.env when omitted (the CLI edge). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Command-line settings by dotted name, e.g. `{ 'admin.port': 9500 }`; undefined values are ignored. */
  readonly flags?: Readonly<Record<string, unknown>>;
  /** Where config/ is looked for and relative paths start; process.cwd() when omitted. */
  readonly cwd?: string;
  /** The default file used when `<cwd>/config/default.yaml` does not exist; the package's own by default. */
  readonly bundledDefaults?: string;
}

export type LoadConfigResult =
  | { readonly ok: true; readonly config: Config; readonly files: readonly string[]; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

/**
 * Reads, merges and validates the configuration. Maps merge key by key; lists and scalars replace; `null` unsets
 * (back to the schema default). Never throws for a bad config: every problem is returned, each located in the
 * file (line, column), variable or flag that set the value.
 */
export function loadConfig(options: LoadConfigOptions = {}): LoadConfigResult {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const problems: ConfigProblem[] = [];

  const envName = environmentName(env, problems);
  const files = configFiles(cwd, envName, options);
  const layers: Layer[] = [];
  for (const file of files) {
    const shown = display(file, cwd);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      problems.push({ source: 'file', file: shown, at: '', message: `cannot read this file (${(e as NodeJS.ErrnoException).code ?? 'error'})` });
      continue;
    }
    const layer = fileLayer(text, shown, problems);
    if (layer !== undefined) layers.push(layer);
  }
  layers.push(envLayer(env, problems));
  layers.push(flagLayer(options.flags ?? {}, problems));

  const origins = new Map<string, Origin>();
  const merged: Record<string, unknown> = {};
  for (const layer of layers) merge(merged, layer.value, [], layer, origins);

  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) problems.push(...parsed.error.issues.flatMap((issue) => issueProblems(issue, origins)));
  if (envName === 'production' && !(isRecord(merged['log']) && merged['log']['refKey'] !== undefined)) {
    problems.push({ source: 'env', variable: 'PORTAL_BRIDGE_LOG_REF_KEY', at: 'log.refKey', message: 'required in production (e.g. `openssl rand -hex 32`): it keys the refs in the logs' });
  }
  const connectorSecrets = parsed.success ? readConnectorSecrets(env, parsed.data.connectors, problems) : {};
  if (problems.length > 0 || !parsed.success) return { ok: false, problems: sortProblems(problems, files.map((f) => display(f, cwd))) };

  const config = deepFreeze({ ...withRefKey(parsed.data, cwd), connectorSecrets });
  return { ok: true, config, files: files.map((f) => display(f, cwd)), warnings: configWarnings(config) };
}

/**
 * Connector secrets come from the environment only: PORTAL_BRIDGE_CONNECTOR_<NAME>_SECRET for every connector that
 * needs one (fhir-subscription: the shared secret of its notifications). A missing one, a short one, or one that
 * names no such connector is a problem.
 */
function readConnectorSecrets(env: Readonly<Record<string, string | undefined>>, connectors: ParsedConfig['connectors'], problems: ConfigProblem[]): Record<string, string> {
  const secrets: Record<string, string> = {};
  const needed = new Map(connectors.filter((c) => c.kind === 'fhir-subscription').map((c) => [connectorSecretVariable(c.name), c.name]));
  for (const variable of Object.keys(env).sort()) {
    if (!CONNECTOR_SECRET.test(variable)) continue;
    const value = env[variable] ?? '';
    const name = needed.get(variable);
    if (name === undefined) problems.push({ source: 'env', variable, at: '', message: 'no fhir-subscription connector of this name needs a secret' });
    else if (value.length < 16) problems.push({ source: 'env', variable, at: '', message: 'at least 16 characters (e.g. `openssl rand -hex 32`)' });
    else secrets[name] = value;
  }
  connectors.forEach((c, i) => {
    if (c.kind !== 'fhir-subscription' || secrets[c.name] !== undefined) return;
    const variable = connectorSecretVariable(c.name);
    if (env[variable] === undefined || env[variable] === '') problems.push({ source: 'env', variable, at: `connectors.${i}`, message: `connector ${c.name} needs its notification secret in the environment (e.g. \`openssl rand -hex 32\`)` });
  });
  return secrets;
}

/** PORTAL_BRIDGE_ENV, else NODE_ENV; a name that could escape config/ is a problem. */
function environmentName(env: Readonly<Record<string, string | undefined>>, problems: ConfigProblem[]): string | undefined {
  const variable = env[ENV_NAME_VARIABLE] ? ENV_NAME_VARIABLE : 'NODE_ENV';
  const name = env[variable];
  if (name === undefined || name === '') return undefined;
  if (/^[A-Za-z0-9_-]+$/.test(name)) return name;
  problems.push({ source: 'env', variable, at: '', message: 'an environment name is letters, digits, "_" or "-" (it names config/<env>.yaml)' });
  return undefined;
}

function configFiles(cwd: string, envName: string | undefined, options: LoadConfigOptions): string[] {
  const local = path.join(cwd, 'config', 'default.yaml');
  const defaults = existsSync(local) ? local : (options.bundledDefaults ?? bundledDefaults());
  const envFile = envName === undefined || envName === 'default' ? undefined : path.join(cwd, 'config', `${envName}.yaml`);
  const all = [defaults, envFile !== undefined && existsSync(envFile) ? envFile : undefined, ...(options.files ?? []).map((f) => path.resolve(cwd, f))];
  return [...new Set(all.filter((f): f is string => f !== undefined))];
}

/** The package's own config/default.yaml (from src/config or dist/src/config), if it can be found. */
function bundledDefaults(): string | undefined {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'config', 'default.yaml');
    if (existsSync(path.join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

function display(file: string, cwd: string): string {
  const rel = path.relative(cwd, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

const pathKey = (p: readonly PropertyKey[]): string => p.map(String).join('\u0000');

/** Deep-merges `src` into `target`, recording the origin of every value it sets. */
function merge(target: Record<string, unknown>, src: Record<string, unknown>, at: readonly string[], layer: Layer, origins: Map<string, Origin>): void {
  for (const [key, value] of Object.entries(src)) {
    const p = [...at, key];
    const k = pathKey(p);
    const current = Object.hasOwn(target, key) ? target[key] : undefined;
    const origin = layer.originOf(p);
    if (isRecord(value)) {
      if (!isRecord(current)) {
        forget(origins, k);
        define(target, key, {});
      }
      if (!origins.has(k) && origin !== undefined) origins.set(k, origin);
      merge(target[key] as Record<string, unknown>, value, p, layer, origins);
      continue;
    }
    forget(origins, k);
    if (value === null) {
      delete target[key];
      continue;
    }
    define(target, key, structuredClone(value));
    if (origin !== undefined) origins.set(k, origin);
  }
}

/** Forgets the origins of `k` and everything below it. */
function forget(origins: Map<string, Origin>, k: string): void {
  for (const existing of [...origins.keys()]) if (existing === k || existing.startsWith(`${k}\u0000`)) origins.delete(existing);
}

/** defineProperty: a key such as "__proto__" stays an ordinary (and, to the schema, unknown) key. */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Turns a schema issue into problems located where the offending value was set. */
function issueProblems(issue: z.core.$ZodIssue, origins: ReadonlyMap<string, Origin>): ConfigProblem[] {
  const at = issue.path;
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const siblings = [...SETTING_BY_KEY.values()].filter((s) => s.path.length > at.length && pathKey(s.path.slice(0, at.length)) === pathKey(at)).map((s) => String(s.path[at.length]));
      const hint = closest(key, new Set(siblings));
      return locate(origins, at, `unknown key "${key}"${hint === undefined ? '' : ` (did you mean "${hint}"?)`}`, key);
    });
  }
  return [locate(origins, at, issue.message)];
}

function locate(origins: ReadonlyMap<string, Origin>, at: readonly PropertyKey[], message: string, key?: string): ConfigProblem {
  const full = key === undefined ? at : [...at, key];
  const dotted = full.map(String).join('.');
  for (let n = full.length; n > 0; n--) {
    const origin = origins.get(pathKey(full.slice(0, n)));
    if (origin === undefined) continue;
    if (origin.source === 'env') return { source: 'env', variable: origin.variable, at: dotted, message };
    if (origin.source === 'flag') return { source: 'flag', flag: origin.flag, at: dotted, message };
    return { source: 'file', file: origin.file, ...origin.yaml.locate(at, key), at: dotted, message };
  }
  return { source: 'file', at: dotted, message };
}

/** Files in the order they were read (then line, column), then the environment, then flags. */
function sortProblems(problems: ConfigProblem[], files: readonly string[]): ConfigProblem[] {
  const rank = (p: ConfigProblem): number => {
    if (p.source === 'env') return files.length + 1;
    if (p.source === 'flag') return files.length + 2;
    const i = p.file === undefined ? -1 : files.indexOf(p.file);
    return i === -1 ? files.length : i;
  };
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => rank(a.p) - rank(b.p) || (a.p.line ?? 0) - (b.p.line ?? 0) || (a.p.column ?? 0) - (b.p.column ?? 0) || a.i - b.i)
    .map(({ p }) => p);
}

/**
 * The ref key: PORTAL_BRIDGE_LOG_REF_KEY, else one derived from the practice id and the database location. The
 * derived key keeps refs stable for an installation but is not secret (anyone who knows both can recompute refs
 * of guessed values), hence the warning and the production rule.
 */
function withRefKey(c: ParsedConfig, cwd: string): Omit<Config, 'connectorSecrets'> {
  const { refKey, ...log } = c.log;
  if (refKey !== undefined) return { ...c, log: { ...log, refKey, refKeySource: 'env' } };
  const location = c.database.url === undefined ? path.resolve(cwd, c.database.file) : postgresLocation(c.database.url);
  const derived = createHash('sha256').update(JSON.stringify(['portal-bridge/ref-key/v1', c.practice.id, location])).digest('hex');
  return { ...c, log: { ...log, refKey: derived, refKeySource: 'derived' } };
}

function postgresLocation(url: string): string {
  const u = new URL(url);
  return `postgres://${u.hostname}:${u.port === '' ? '5432' : u.port}${u.pathname}`;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
