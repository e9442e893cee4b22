import { APPOINTMENT_STATUSES, AUTHORITIES, RELATIONSHIPS } from '../model';
import { toE164 } from '../phone';
import type { CodeMap, FieldSpec, FieldType, Mapping } from './types';

/** A field value after the code map and type coercion. */
export type FieldValue = string | boolean | undefined;

/**
 * Reads one canonical field: tries each path of `spec` in order (`read` evaluates one path in the translator's
 * current context and returns its text, or undefined when empty), applies the code map and the default, then
 * coerces to the field's type. A value that cannot be coerced is dropped and explained in `warnings` — a bad
 * phone number must not cost the whole message. Pure.
 */
export function readField(
  name: string,
  spec: FieldSpec | undefined,
  type: FieldType,
  mapping: Mapping,
  read: (path: string, spec: FieldSpec) => string | undefined,
  warnings: string[],
): FieldValue {
  if (spec === undefined) return undefined;
  let raw: string | undefined;
  for (const path of spec.paths) {
    const v = read(path, spec);
    if (v !== undefined && v.trim() !== '') {
      raw = v.trim();
      break;
    }
  }
  let value: FieldValue = raw ?? spec.default;
  if (spec.map !== undefined) {
    const codeMap = mapping.codeMaps.get(spec.map);
    if (codeMap !== undefined) value = lookup(codeMap, raw) ?? spec.default;
  }
  return coerce(name, value, type, mapping.policy.defaultRegion, warnings);
}

/** Code map lookup: exact (or case-folded) match, else the map's default. */
export function lookup(codeMap: CodeMap, raw: string | undefined): string | boolean | undefined {
  if (raw === undefined) return codeMap.default;
  const key = codeMap.caseSensitive ? raw.trim() : raw.trim().toLowerCase();
  const hit = codeMap.values.get(key);
  return hit !== undefined ? hit : codeMap.default;
}

function coerce(name: string, value: FieldValue, type: FieldType, region: string, warnings: string[]): FieldValue {
  if (value === undefined) return undefined;
  switch (type) {
    case 'string':
    case 'email':
      return typeof value === 'string' ? value : String(value);
    case 'boolean':
      return toBoolean(name, value, warnings);
    case 'date':
      return checked(name, typeof value === 'string' ? toIsoDate(value) : undefined, 'is not a date', warnings);
    case 'datetime':
      return checked(name, typeof value === 'string' ? toIsoDateTime(value) : undefined, 'is not a date/time', warnings);
    case 'phone':
      return checked(name, typeof value === 'string' ? toE164(value, region) : undefined, 'is not a valid phone number', warnings);
    case 'relationship':
      return oneOf(name, value, RELATIONSHIPS, 'unknown', warnings);
    case 'authority':
      return oneOf(name, value, AUTHORITIES, 'unknown', warnings);
    case 'appointment-status':
      return oneOf(name, value, APPOINTMENT_STATUSES, 'unknown', warnings);
    default:
      return type satisfies never;
  }
}

function checked(name: string, v: string | undefined, problem: string, warnings: string[]): string | undefined {
  if (v === undefined) warnings.push(`${name} ${problem}; ignored`);
  return v;
}

const TRUE = new Set(['y', 'yes', 'true', '1', 't']);
const FALSE = new Set(['n', 'no', 'false', '0', 'f']);

function toBoolean(name: string, value: string | boolean, warnings: string[]): boolean | undefined {
  if (typeof value === 'boolean') return value;
  const k = value.trim().toLowerCase();
  if (TRUE.has(k)) return true;
  if (FALSE.has(k)) return false;
  warnings.push(`${name} is not yes/no; ignored`);
  return undefined;
}

function oneOf(name: string, value: string | boolean, allowed: readonly string[], fallback: string, warnings: string[]): string {
  const s = String(value);
  if (allowed.includes(s)) return s;
  warnings.push(`${name} code is not mapped; treated as ${fallback}`);
  return fallback;
}

const HL7_TS = /^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d{1,4})?([+-]\d{4})?$/;
const ISO_DATE = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?/;

/** HL7 DT/TS (`19850101`, `198501011230-0500`) or ISO (`1985-01-01…`) → `YYYY-MM-DD`, `YYYY-MM` or `YYYY`. */
export function toIsoDate(text: string): string | undefined {
  const t = text.trim();
  const m = HL7_TS.exec(t) ?? ISO_DATE.exec(t);
  if (m === null) return undefined;
  const [, y, mo, d] = m;
  if (y === undefined) return undefined;
  if (mo === undefined) return y;
  if (!validMonth(mo)) return undefined;
  if (d === undefined) return `${y}-${mo}`;
  return validDay(y, mo, d) ? `${y}-${mo}-${d}` : undefined;
}

/**
 * HL7 TS or RFC 3339 → RFC 3339. With an offset the result is UTC (`…Z`), so versions from one feed compare as
 * strings; without one the local time is kept without a zone (HL7 senders often omit it).
 */
export function toIsoDateTime(text: string): string | undefined {
  const t = text.trim();
  const hl7 = HL7_TS.exec(t);
  if (hl7 !== null) {
    const [, y, mo = '01', d = '01', h = '00', mi = '00', s = '00', off] = hl7;
    if (y === undefined || !validMonth(mo) || !validDay(y, mo, d) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 60) return undefined;
    const local = `${y}-${mo}-${d}T${h}:${mi}:${s}`;
    if (off === undefined) return local;
    const ms = Date.parse(`${local}${off.slice(0, 3)}:${off.slice(3)}`);
    return Number.isNaN(ms) ? undefined : new Date(ms).toISOString().replace('.000Z', 'Z');
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(t)) {
    if (!/(Z|[+-]\d{2}:\d{2})$/.test(t)) return t;
    const ms = Date.parse(t);
    return Number.isNaN(ms) ? undefined : new Date(ms).toISOString().replace('.000Z', 'Z');
  }
  const d = toIsoDate(t);
  return d !== undefined && d.length === 10 ? `${d}T00:00:00` : undefined;
}

function validMonth(mo: string): boolean {
  const n = Number(mo);
  return n >= 1 && n <= 12;
}

function validDay(y: string, mo: string, d: string): boolean {
  const n = Number(d);
  const days = new Date(Date.UTC(Number(y), Number(mo), 0)).getUTCDate();
  return n >= 1 && n <= days;
}
