/**
 * Every setting the schema knows, with its environment variable and the kind of value it takes, derived from the
 * schema itself so the two cannot drift. `jobs.backoff.baseMs` ↔ PORTAL_BRIDGE_JOBS_BACKOFF_BASE_MS.
 */
import type { z } from 'zod';
import { ConfigSchema, SECRET_SETTINGS } from './schema';

export type SettingKind = 'string' | 'number' | 'boolean' | 'list';

export interface Setting {
  /** Path in the config, e.g. ['jobs', 'backoff', 'baseMs']. */
  readonly path: readonly string[];
  /** The dotted path, also the name a flag uses: `jobs.backoff.baseMs`. */
  readonly key: string;
  readonly variable: string;
  readonly kind: SettingKind;
  /** Read only from the environment. */
  readonly secret: boolean;
}

export const ENV_PREFIX = 'PORTAL_BRIDGE_';
/** Chooses config/<env>.yaml (before NODE_ENV); not a setting. */
export const ENV_NAME_VARIABLE = 'PORTAL_BRIDGE_ENV';

/** `['jobs', 'backoff', 'baseMs']` → `PORTAL_BRIDGE_JOBS_BACKOFF_BASE_MS`. */
export function variableFor(path: readonly string[]): string {
  return ENV_PREFIX + path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');
}

interface Def {
  readonly type: string;
  readonly shape?: Record<string, z.ZodType>;
  readonly innerType?: z.ZodType;
  readonly in?: z.ZodType;
}

function collect(schema: z.ZodType, path: readonly string[], out: Setting[]): void {
  const def = (schema as unknown as { _zod: { def: Def } })._zod.def;
  const wrapped = def.innerType ?? def.in;
  if (wrapped !== undefined) return collect(wrapped, path, out);
  if (def.type === 'object' && def.shape !== undefined) {
    for (const [key, child] of Object.entries(def.shape)) collect(child, [...path, key], out);
    return;
  }
  const kind: SettingKind = def.type === 'number' ? 'number' : def.type === 'boolean' ? 'boolean' : def.type === 'array' ? 'list' : 'string';
  const key = path.join('.');
  out.push({ path, key, variable: variableFor(path), kind, secret: SECRET_SETTINGS.some((s) => s.path.join('.') === key) });
}

export const SETTINGS: readonly Setting[] = (() => {
  const out: Setting[] = [];
  collect(ConfigSchema, [], out);
  return out;
})();

export const SETTING_BY_VARIABLE: ReadonlyMap<string, Setting> = new Map(SETTINGS.map((s) => [s.variable, s]));
export const SETTING_BY_KEY: ReadonlyMap<string, Setting> = new Map(SETTINGS.map((s) => [s.key, s]));

/**
 * A string from the environment or a flag, as the setting's kind: numbers and booleans are converted when they
 * read as one; anything else is left as the string, so the schema reports it.
 */
export function coerce(raw: string, kind: SettingKind): unknown {
  const text = raw.trim();
  if (kind === 'number' && /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i.test(text)) return Number(text);
  if (kind === 'boolean') {
    const lower = text.toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(lower)) return true;
    if (['false', '0', 'no', 'off'].includes(lower)) return false;
  }
  return kind === 'string' ? raw : text;
}

/** The known name closest to `name` (edit distance ≤ 3), for "did you mean". */
export function closest(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = 4;
  for (const k of known) {
    const d = distance(name, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}
