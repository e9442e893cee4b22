/**
 * The three kinds of config source, each turned into a layer: plain values plus where each came from. Secrets
 * are refused here, where the source is still known: from files and flags (DESIGN §10), naming the variable to
 * use instead.
 */
import { parseLocatedYaml, type LocatedYaml } from '../yaml-problems';
import { SECRET_SETTINGS } from './schema';
import { closest, coerce, ENV_NAME_VARIABLE, ENV_PREFIX, SETTING_BY_KEY, SETTING_BY_VARIABLE, type Setting } from './settings';

/** One problem in the configuration. File problems have a 1-based line and column when the file parsed. */
export interface ConfigProblem {
  readonly source: 'file' | 'env' | 'flag';
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  /** The environment variable, for `env` problems. */
  readonly variable?: string;
  /** The flag's setting name (`jobs.concurrency`), for `flag` problems. */
  readonly flag?: string;
  /** Dotted location in the config, e.g. `jobs.backoff.capMs`; '' for the file as a whole. */
  readonly at: string;
  readonly message: string;
}

/** Where a value came from. */
export type Origin =
  | { readonly source: 'file'; readonly file: string; readonly yaml: LocatedYaml }
  | { readonly source: 'env'; readonly variable: string }
  | { readonly source: 'flag'; readonly flag: string };

export interface Layer {
  readonly value: Record<string, unknown>;
  /** The origin of the value at `path` (a key of this layer's value, or below one); undefined for a section. */
  originOf(path: readonly PropertyKey[]): Origin | undefined;
}

type Path = readonly PropertyKey[];

/** A YAML config file as a layer; its syntax, shape and secret problems go to `problems`. */
export function fileLayer(text: string, file: string, problems: ConfigProblem[]): Layer | undefined {
  const yaml = parseLocatedYaml(text);
  if (yaml.syntaxErrors.length > 0) {
    for (const e of yaml.syntaxErrors) problems.push({ source: 'file', file, line: e.line, column: e.column, at: '', message: e.message });
    return undefined;
  }
  const value = yaml.toJS() ?? {};
  if (!isRecord(value)) {
    problems.push({ source: 'file', file, ...yaml.locate([]), at: '', message: 'a config file is a map of sections (practice:, database:, …)' });
    return undefined;
  }
  const origin: Origin = { source: 'file', file, yaml };
  const refuse = (path: Path, message: string): void => {
    problems.push({ source: 'file', file, ...yaml.locate(path), at: path.join('.'), message });
    deleteIn(value, path);
  };
  for (const secret of SECRET_SETTINGS) {
    if (getIn(value, secret.path) != null) refuse(secret.path, `secrets are not read from files: set ${secret.variable} in the environment instead`);
  }
  if (hasPassword(getIn(value, DATABASE_URL))) refuse(DATABASE_URL, PASSWORD_IN_URL);
  return { value, originOf: () => origin };
}

/** PORTAL_BRIDGE_CONNECTOR_<NAME>_SECRET: read by load.ts for the connector it names (connectorSecrets). */
export const CONNECTOR_SECRET = /^PORTAL_BRIDGE_CONNECTOR_([A-Z0-9_]+)_SECRET$/;

/**
 * PORTAL_BRIDGE_* variables as a layer. An empty variable counts as unset. Unknown PORTAL_BRIDGE_ variables are
 * problems (a typo would otherwise be ignored); values are never echoed, since some are secrets.
 */
export function envLayer(env: Readonly<Record<string, string | undefined>>, problems: ConfigProblem[]): Layer {
  const value: Record<string, unknown> = {};
  const variables = new Map<string, string>();
  for (const variable of Object.keys(env).sort()) {
    if (!variable.startsWith(ENV_PREFIX) || variable === ENV_NAME_VARIABLE || CONNECTOR_SECRET.test(variable)) continue;
    const raw = env[variable];
    const setting = SETTING_BY_VARIABLE.get(variable);
    if (setting === undefined) {
      const hint = closest(variable, [...SETTING_BY_VARIABLE.keys(), ENV_NAME_VARIABLE]);
      problems.push({ source: 'env', variable, at: '', message: `unknown variable${hint === undefined ? '' : ` (did you mean ${hint}?)`}` });
      continue;
    }
    if (raw === undefined || raw === '') continue;
    if (setting.kind === 'list') {
      problems.push({ source: 'env', variable, at: setting.key, message: `${setting.key} is set in a config file, not the environment` });
      continue;
    }
    setIn(value, setting.path, coerce(raw, setting.kind));
    variables.set(setting.key, variable);
  }
  return {
    value,
    originOf: (path) => {
      const variable = variables.get(path.map(String).join('.'));
      return variable === undefined ? undefined : { source: 'env', variable };
    },
  };
}

/**
 * Command-line settings by dotted name (`{ 'jobs.concurrency': '8' }`); undefined values are skipped (an option
 * that was not given). Strings are converted like environment values.
 */
export function flagLayer(flags: Readonly<Record<string, unknown>>, problems: ConfigProblem[]): Layer {
  const value: Record<string, unknown> = {};
  for (const [flag, raw] of Object.entries(flags)) {
    if (raw === undefined) continue;
    const setting: Setting | undefined = SETTING_BY_KEY.get(flag);
    if (setting === undefined) {
      const hint = closest(flag, SETTING_BY_KEY.keys());
      problems.push({ source: 'flag', flag, at: flag, message: `unknown setting${hint === undefined ? '' : ` (did you mean ${hint}?)`}` });
    } else if (setting.secret) {
      problems.push({ source: 'flag', flag, at: flag, message: `secrets are not read from the command line: set ${setting.variable} in the environment instead` });
    } else if (setting.key === DATABASE_URL.join('.') && hasPassword(raw)) {
      problems.push({ source: 'flag', flag, at: flag, message: PASSWORD_IN_URL });
    } else {
      setIn(value, setting.path, typeof raw === 'string' ? coerce(raw, setting.kind) : raw);
    }
  }
  return { value, originOf: (path) => (SETTING_BY_KEY.has(path.join('.')) ? { source: 'flag', flag: path.join('.') } : undefined) };
}

const DATABASE_URL = ['database', 'url'] as const;
const PASSWORD_IN_URL = 'no password in a file or flag: set PORTAL_BRIDGE_DATABASE_URL (or PGPASSWORD) in the environment';

/** True when a PostgreSQL URL carries a password (in the user-info part or as `?password=`). */
export function hasPassword(url: unknown): boolean {
  if (typeof url !== 'string' || !URL.canParse(url)) return false;
  const parsed = new URL(url);
  return parsed.password !== '' || parsed.searchParams.has('password');
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function getIn(root: unknown, path: Path): unknown {
  let node = root;
  for (const key of path) {
    if (!isRecord(node)) return undefined;
    node = node[String(key)];
  }
  return node;
}

function setIn(root: Record<string, unknown>, path: readonly string[], v: unknown): void {
  let node = root;
  path.forEach((key, i) => {
    if (i === path.length - 1) {
      node[key] = v;
      return;
    }
    const next = node[key];
    if (isRecord(next)) node = next;
    else node = node[key] = {};
  });
}

function deleteIn(root: Record<string, unknown>, path: Path): void {
  const parent = getIn(root, path.slice(0, -1));
  if (isRecord(parent)) delete parent[String(path[path.length - 1])];
}
