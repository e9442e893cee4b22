import { FhirError } from './outcome';

const INSTANT = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/**
 * The interval [start, end) in epoch ms that a FHIR date/dateTime/instant search value stands for, by its precision:
 * `2026` is the whole year, `2026-01-10T09:00:00.123Z` one millisecond. A time without zone is read as UTC.
 * A `+hh:mm` zone that arrived unencoded (as a space) is accepted.
 */
export function instantRange(value: string, param: string): { start: number; end: number } {
  const m = INSTANT.exec(value.replace(' ', '+'));
  if (m === null) throw new FhirError(400, 'invalid', `${param}: "${value}" is not a FHIR date, dateTime or instant`);
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  if (mo === undefined) return { start: Date.UTC(year, 0, 1), end: Date.UTC(year + 1, 0, 1) };
  const month = Number(mo) - 1;
  if (d === undefined) return { start: Date.UTC(year, month, 1), end: Date.UTC(year, month + 1, 1) };
  const day = Number(d);
  if (h === undefined) return { start: Date.UTC(year, month, day), end: Date.UTC(year, month, day + 1) };
  let offset = 0;
  if (zone !== undefined && zone !== 'Z') offset = (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  const minute = Date.UTC(year, month, day, Number(h), Number(mi)) - offset;
  if (s === undefined) return { start: minute, end: minute + 60_000 };
  const second = minute + Number(s) * 1000;
  if (frac === undefined) return { start: second, end: second + 1000 };
  const digits = Math.min(frac.length, 3);
  const width = 10 ** (3 - digits);
  const start = second + Number(frac.slice(0, digits)) * width;
  return { start, end: start + width };
}

/** Narrows [from, to) by one `_lastUpdated` value with its prefix (eq, gt, ge, lt, le). */
export function narrowByPrefixed(value: string, param: string, range: { from: number; to: number }): void {
  const m = /^(eq|gt|ge|lt|le|ne|sa|eb|ap)?(.*)$/.exec(value)!;
  const prefix = m[1] ?? 'eq';
  const { start, end } = instantRange(m[2]!, param);
  switch (prefix) {
    case 'eq':
      range.from = Math.max(range.from, start);
      range.to = Math.min(range.to, end);
      return;
    case 'gt':
      range.from = Math.max(range.from, end);
      return;
    case 'ge':
      range.from = Math.max(range.from, start);
      return;
    case 'lt':
      range.to = Math.min(range.to, start);
      return;
    case 'le':
      range.to = Math.min(range.to, end);
      return;
    default:
      throw new FhirError(400, 'not-supported', `${param}: prefix "${prefix}" is not supported (eq, gt, ge, lt, le are)`);
  }
}
