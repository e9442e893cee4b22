/**
 * How values are stored so that SQLite and PostgreSQL behave the same (DESIGN §9):
 * - **Times** are text on both: RFC 3339 UTC with milliseconds, always 24 characters (`2026-01-10T14:00:00.000Z`,
 *   `Date.prototype.toISOString`). Fixed width and one zone make text order equal time order, so comparisons and
 *   ORDER BY work in SQL on both engines, and nothing is converted by a driver or a session time zone.
 *   (On PostgreSQL `received_at::timestamptz` reads them as instants in psql.)
 * - **JSON** is text on SQLite and jsonb on PostgreSQL. We always write `JSON.stringify(value)` (the pg driver
 *   would turn a JS array into a PostgreSQL array) and read with `fromJson`, which parses text and passes through
 *   what pg already parsed. Only objects and arrays are stored, so a string never needs telling apart.
 * - **Ids** from big-increments columns come back as strings on pg (int8) and numbers on SQLite: `toId`.
 * - **Booleans** come back as 0/1 on SQLite: `toBool`.
 */

/** A time column value for `at` (see the module comment). */
export function toDbTime(at: Date): string {
  return at.toISOString();
}

/** A time column value `ms` milliseconds after `at`. */
export function dbTimeAfter(at: Date, ms: number): string {
  return new Date(at.getTime() + ms).toISOString();
}

/** The text to write into a JSON column. */
export function toJson(value: object): string {
  return JSON.stringify(value);
}

/** A JSON column's value as read back: text (SQLite) is parsed, an already parsed value (pg jsonb) is returned. */
export function fromJson<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

/** A big-increments id as a number (ids stay far below 2^53). */
export function toId(value: unknown): number {
  const id = Number(value);
  if (!Number.isSafeInteger(id)) throw new TypeError(`not an id: ${String(value)}`);
  return id;
}

/** An optional id column. */
export function toOptionalId(value: unknown): number | undefined {
  return value === null || value === undefined ? undefined : toId(value);
}

/** A boolean column (SQLite returns 0/1). */
export function toBool(value: unknown): boolean {
  return value === true || value === 1 || value === '1' || value === 't';
}

/** A count() result: a string on pg, a number on SQLite. */
export function toCount(value: unknown): number {
  return Number(value ?? 0);
}

/** A nullable text column as an optional string. */
export function optionalText(value: unknown): string | undefined {
  return value === null || value === undefined ? undefined : String(value);
}

/** A nullable integer column as an optional number. */
export function optionalNumber(value: unknown): number | undefined {
  return value === null || value === undefined ? undefined : Number(value);
}

/** An error message fit for an `error` column: one line, at most 500 characters. */
export function oneLine(message: string): string {
  const line = message.replace(/\s*[\r\n]+\s*/gu, ' ').trim();
  return line.length > 500 ? `${line.slice(0, 499)}…` : line;
}

/**
 * True when `a` and `b` are the same JSON document: key order and `undefined` members ignored (jsonb reorders
 * keys; canonical objects may carry absent optionals as `undefined`).
 */
export function sameJson(a: unknown, b: unknown): boolean {
  return a === b || canonicalJson(a) === canonicalJson(b);
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}
