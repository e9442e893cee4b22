import { randomUUID } from 'node:crypto';
import { narrowByPrefixed } from './instant';
import { FhirError } from './outcome';
import { compareRows, lowerBound, normalizeRef, refsOf, type ResourceStore, type Row } from './store';

/**
 * Search: `_id`, `_lastUpdated` (eq gt ge lt le; repeat to AND), `patient` (any type with a patient or subject
 * reference), `actor` (Appointment), `_count`, `_sort=_lastUpdated`, `_summary=count`. Always sorted by
 * (meta.lastUpdated, id). Paging is a keyset cursor (`_cursor=<ms>:<id>`) added to the original query, so a next link
 * keeps working when resources change meanwhile: a resource updated during the walk moves behind the cursor and is
 * met again on a later page, a deleted one is skipped.
 */

export type Query = Readonly<Record<string, string | readonly string[] | undefined>>;

export interface SearchContext {
  readonly store: ResourceStore;
  readonly baseUrl: string;
  readonly pageSize: number;
  readonly maxPageSize: number;
  readonly relatedPersonSearch: 'any' | 'per-patient';
}

/** Parameters every type accepts; `_cursor` is ours (the next link). */
const COMMON = new Set(['_id', '_lastUpdated', '_count', '_sort', '_cursor', '_format', '_pretty', '_total', '_summary']);

export function values(query: Query, name: string): string[] {
  const v = query[name];
  return v === undefined ? [] : typeof v === 'string' ? [v] : [...v];
}

function single(query: Query, name: string): string | undefined {
  const v = values(query, name);
  if (v.length > 1) throw new FhirError(400, 'invalid', `${name} may be given once`);
  return v[0];
}

function allowed(type: string, name: string): boolean {
  if (COMMON.has(name)) return true;
  if (name === 'patient') return type !== 'Patient';
  return name === 'actor' && type === 'Appointment';
}

/** A searchset Bundle for `GET <base>/<type>?<query>`. `selfUrl` is the request as received. */
export function searchBundle(ctx: SearchContext, type: string, query: Query, selfUrl: string, lenient: boolean): Record<string, unknown> {
  for (const name of Object.keys(query)) {
    if (!allowed(type, name) && !lenient) throw new FhirError(400, 'not-supported', `Unknown search parameter "${name}" for resource type "${type}"`);
  }
  const sort = single(query, '_sort');
  if (sort !== undefined && sort !== '_lastUpdated') throw new FhirError(400, 'not-supported', '_sort: only _lastUpdated is supported');
  const countText = single(query, '_count');
  const count = countText === undefined ? ctx.pageSize : Math.min(Number(countText), ctx.maxPageSize);
  if (!Number.isInteger(count) || count < 0) throw new FhirError(400, 'invalid', '_count must be a whole number ≥ 0');
  const summary = single(query, '_summary');
  if (summary !== undefined && summary !== 'count' && !lenient) throw new FhirError(400, 'not-supported', '_summary: only count is supported');

  const ids = values(query, '_id').flatMap((v) => v.split(','));
  const patientRefs = values(query, 'patient').map((v) => v.split(',').map((x) => toRef(x, 'Patient')));
  const actorRefs = type === 'Appointment' ? values(query, 'actor').map((v) => v.split(',').map((x) => toRef(x, undefined))) : [];
  if (type === 'RelatedPerson' && ctx.relatedPersonSearch === 'per-patient' && patientRefs.length === 0 && ids.length === 0) {
    throw new FhirError(400, 'required', 'RelatedPerson search requires the patient parameter (or _id)');
  }
  const range = { from: -Infinity, to: Infinity };
  for (const v of values(query, '_lastUpdated')) narrowByPrefixed(v, '_lastUpdated', range);

  // Candidates in (ms, id) order, as a range [lo, hi) of `rows`.
  let rows: readonly Row[];
  let lo: number;
  let hi: number;
  const refFilters = [...patientRefs, ...actorRefs];
  if (ids.length > 0 || refFilters.length > 0) {
    // Start from the smallest set an index gives: the ids, else a reference filter without a bare id.
    const indexed = ids.length > 0 ? -1 : refFilters.findIndex((refs) => refs.every((ref) => !ref.startsWith('*/')));
    const first = ids.length > 0 ? ctx.store.rowsById(type, ids) : indexed >= 0 ? ctx.store.rowsByRef(type, refFilters[indexed]!) : ctx.store.sorted(type);
    const rest = refFilters.filter((_, i) => i !== indexed);
    rows = first.filter((r) => r.ms >= range.from && r.ms < range.to && rest.every((refs) => matchesAny(ctx.store, type, r, refs)));
    lo = 0;
    hi = rows.length;
  } else {
    rows = ctx.store.sorted(type);
    lo = lowerBound(rows, 0, rows.length, (r) => r.ms >= range.from);
    hi = lowerBound(rows, lo, rows.length, (r) => r.ms >= range.to);
  }
  const total = hi - lo;
  const cursor = parseCursor(single(query, '_cursor'));
  const start = cursor === undefined ? lo : lowerBound(rows, lo, hi, (r) => compareRows(r, cursor) > 0);
  const pageEnd = summary === 'count' ? start : Math.min(start + count, hi);
  const page = rows.slice(start, pageEnd);

  const link = [{ relation: 'self', url: selfUrl }];
  const last = page[page.length - 1];
  if (last !== undefined && pageEnd < hi) {
    const next = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (k !== '_cursor') for (const x of values({ [k]: v }, k)) next.append(k, x);
    next.append('_cursor', `${last.ms}:${last.id}`);
    link.push({ relation: 'next', url: `${ctx.baseUrl}/${type}?${next.toString()}` });
  }
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    type: 'searchset',
    total,
    link,
    entry: page.map((r) => ({ fullUrl: `${ctx.baseUrl}/${type}/${r.id}`, resource: ctx.store.resource(type, r), search: { mode: 'match' } })),
  };
}

/** `Patient/1`, `1` (of `defaultType`), or an absolute URL → `Patient/1`; a bare id without default type → `*\/1`. */
function toRef(value: string, defaultType: string | undefined): string {
  const ref = normalizeRef(value);
  if (ref !== undefined) return ref;
  if (/^[A-Za-z0-9\-.]{1,64}$/.test(value)) return defaultType === undefined ? `*/${value}` : `${defaultType}/${value}`;
  throw new FhirError(400, 'invalid', `"${value}" is not a reference`);
}

function matchesAny(store: ResourceStore, type: string, row: Row, refs: readonly string[]): boolean {
  const held = refsOf(store.resource(type, row));
  return refs.some((ref) => (ref.startsWith('*/') ? held.some((h) => h.endsWith(ref.slice(1))) : held.includes(ref)));
}

function parseCursor(text: string | undefined): { ms: number; id: string } | undefined {
  if (text === undefined) return undefined;
  const m = /^(-?\d+):([A-Za-z0-9\-.]{1,64})$/.exec(text);
  if (m === null) throw new FhirError(400, 'invalid', '_cursor is not one this server wrote');
  return { ms: Number(m[1]), id: m[2]! };
}
