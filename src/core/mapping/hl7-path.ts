import { leafValue, type Hl7Delimiters, type Hl7SegmentView } from '../hl7/message';
import type { FieldExtractor } from './types';

/**
 * HL7 v2 paths of mapping files (docs/mapping-format.md): `SEG-field[selector].component.subcomponent`,
 * all 1-based — `PID-5.1`, `NK1-2.2`, `PID-3[5=MR].1`, `PID-13[3=Internet|X.400]`, `PID-3[2]`. Pure.
 */

/** `[c=V1|V2]`: the first repetition whose component `component` equals one of `values` (case-insensitive). */
export interface Hl7PathFilter {
  readonly component: number;
  /** As written in the path. */
  readonly values: readonly string[];
  /** Trimmed and lower-cased, for matching. */
  readonly keys: readonly string[];
}

/** A parsed path. Absent parts mean: first repetition, component 1, subcomponent 1. */
export interface Hl7Path {
  readonly text: string;
  readonly segment: string;
  readonly field: number;
  /** `[n]`: the n-th repetition. */
  readonly repetition?: number;
  readonly filter?: Hl7PathFilter;
  readonly component?: number;
  readonly subcomponent?: number;
}

/** A path that does not parse. `column` is the 1-based position within the path text. */
export class Hl7PathError extends Error {
  override readonly name = 'Hl7PathError';
  constructor(
    message: string,
    readonly column: number,
  ) {
    super(message);
  }
}

const MAX_INDEX = 9999;
const CACHE_LIMIT = 10_000;
const cache = new Map<string, Hl7Path>();

/**
 * Parses a path (cached: mappings evaluate the same few paths millions of times). Throws Hl7PathError with a
 * one-line message naming the column, e.g. "expected a field number after 'PID-' at column 5".
 */
export function parseHl7Path(text: string): Hl7Path {
  const hit = cache.get(text);
  if (hit !== undefined) return hit;
  const path = new PathParser(text).parse();
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(text, path);
  return path;
}

class PathParser {
  private i = 0;
  constructor(private readonly text: string) {}

  parse(): Hl7Path {
    const t = this.text;
    const segment = t.slice(0, 3);
    if (!/^[A-Z][A-Z0-9]{2}$/.test(segment)) {
      const hint = /^[A-Za-z][A-Za-z0-9]{2}$/.test(segment) ? ` ('${segment.toUpperCase()}', in upper case)` : '';
      this.fail(`expected a segment name such as PID or ZNK${hint}`, 0);
    }
    this.i = 3;
    if (t[3] !== '-') {
      const hint = t[3] === '.' ? ` (fields are written ${segment}-3, components ${segment}-3.1)` : '';
      this.fail(`expected '-' and a field number after '${segment}'${hint}`, 3);
    }
    this.i = 4;
    const field = this.number(`a field number after '${segment}-'`);
    let repetition: number | undefined;
    let filter: Hl7PathFilter | undefined;
    if (t[this.i] === '[') {
      const open = this.i++;
      const n = this.number(`a repetition number or component=value after '['`);
      if (t[this.i] === '=') {
        this.i++;
        filter = { component: n, ...this.values() };
      } else {
        repetition = n;
      }
      if (t[this.i] !== ']') this.fail(`expected ']'`, this.i, ` (to close the '[' at column ${open + 1})`);
      this.i++;
    }
    let component: number | undefined;
    let subcomponent: number | undefined;
    if (t[this.i] === '.') {
      this.i++;
      component = this.number(`a component number after '.'`);
      if (t[this.i] === '.') {
        this.i++;
        subcomponent = this.number(`a subcomponent number after '.'`);
      }
    }
    if (this.i < t.length) {
      const what = subcomponent !== undefined ? ': a path ends after the subcomponent' : '';
      this.fail(`unexpected '${t[this.i]}'${what}`, this.i);
    }
    return {
      text: t,
      segment,
      field,
      ...(repetition !== undefined && { repetition }),
      ...(filter !== undefined && { filter }),
      ...(component !== undefined && { component }),
      ...(subcomponent !== undefined && { subcomponent }),
    };
  }

  /** A 1-based number at the cursor. */
  private number(what: string): number {
    const start = this.i;
    while (this.i < this.text.length && isDigit(this.text.charCodeAt(this.i))) this.i++;
    if (this.i === start) this.fail(`expected ${what}`, start);
    const n = Number(this.text.slice(start, this.i));
    if (n < 1) this.fail('numbers in a path start at 1', start);
    if (n > MAX_INDEX) this.fail(`${n} is too large for a position in a segment`, start);
    return n;
  }

  /** `V1|V2` up to the closing `]`. */
  private values(): { values: string[]; keys: string[] } {
    const values: string[] = [];
    for (;;) {
      const start = this.i;
      while (this.i < this.text.length && this.text[this.i] !== '|' && this.text[this.i] !== ']') this.i++;
      const v = this.text.slice(start, this.i);
      if (v.trim() === '') this.fail(values.length === 0 ? `expected a value after '='` : `expected a value after '|'`, start);
      values.push(v);
      if (this.text[this.i] !== '|') break;
      this.i++;
    }
    return { values, keys: values.map((v) => v.trim().toLowerCase()) };
  }

  private fail(message: string, index: number, after = ''): never {
    throw new Hl7PathError(`${message} at column ${index + 1}${after}`, index + 1);
  }
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * Evaluates a path on one segment (the caller picks the segment: the current NK1 row, the joined ZNK, the
 * patient's PID…). Returns the decoded, trimmed text, or undefined when it is empty or `""`.
 * - `[n]` reads the n-th repetition; `[c=V]` the first matching repetition that yields a non-empty result;
 *   no selector, the first repetition.
 * - No component: component 1 — unless `as` is given, then the extractor reads the whole repetition
 *   (xtn-email: XTN-4, else XTN-1 when it looks like an address; xtn-phone: XTN-12, else XTN-5/6/7, else XTN-1,
 *   else XTN-9). No subcomponent: subcomponent 1.
 */
export function evaluateHl7Path(path: Hl7Path | string, segment: Hl7SegmentView, as?: FieldExtractor): string | undefined {
  const p = typeof path === 'string' ? parseHl7Path(path) : path;
  if (segment.name !== p.segment) return undefined;
  if (p.field <= 2 && p.segment === 'MSH') {
    const plain = (p.repetition ?? 1) === 1 && p.filter === undefined && (p.component ?? 1) === 1 && (p.subcomponent ?? 1) === 1;
    return plain ? segment.value(p.field) : undefined;
  }
  const d = segment.delimiters;
  if (p.filter === undefined) return read(p, segment.rawRepetition(p.field, p.repetition ?? 1), d, as);
  const { component, keys } = p.filter;
  for (const rep of segment.repetitions(p.field)) {
    if (!keys.includes(leafValue(rep, component, 1, d).trim().toLowerCase())) continue;
    const v = read(p, rep, d, as);
    if (v !== undefined) return v;
  }
  return undefined;
}

function read(p: Hl7Path, repetition: string, d: Hl7Delimiters, as: FieldExtractor | undefined): string | undefined {
  if (repetition === '') return undefined;
  if (p.component === undefined && as !== undefined) return extractXtn(as, repetition, d);
  return nonEmpty(leafValue(repetition, p.component ?? 1, p.subcomponent ?? 1, d));
}

const EMAIL_LIKE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Reads one raw XTN repetition as an email or a phone number (docs/mapping-format.md, CODES.md §1.5 and §4). */
export function extractXtn(as: FieldExtractor, repetition: string, d: Hl7Delimiters): string | undefined {
  const c = (n: number): string => leafValue(repetition, n, 1, d).trim();
  switch (as) {
    case 'xtn-email': {
      const address = c(4);
      if (address !== '') return address;
      const text = c(1);
      return EMAIL_LIKE.test(text) ? text : undefined;
    }
    case 'xtn-phone': {
      const unformatted = c(12);
      if (unformatted !== '') return unformatted;
      const local = c(7);
      if (local !== '') {
        const country = c(5);
        const area = c(6);
        return `${country === '' ? '' : `+${country.replace(/^\+/, '')} `}${area === '' ? '' : `${area} `}${local}`;
      }
      return nonEmpty(c(1)) ?? nonEmpty(c(9));
    }
    default:
      return as satisfies never;
  }
}

function nonEmpty(v: string): string | undefined {
  const t = v.trim();
  return t === '' ? undefined : t;
}
