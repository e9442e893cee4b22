import type { FhirResource, StoredResource } from './types';

/**
 * The server's resources, per type, kept in (meta.lastUpdated, id) order for keyset paging and exports.
 * Rows are immutable: an update replaces the row, so a page or an export that holds rows sees a consistent snapshot.
 * Generated rows (addFamilies) hold no JSON, only (id, time, version): the resource is built when read, which keeps
 * 100,000 patients + 200,000 RelatedPersons at tens of MB instead of ~350 MB.
 */

/** How generated rows of one kind are built. */
export interface GeneratedKind {
  build(id: string, meta: { versionId: string; lastUpdated: string }): FhirResource;
  /** The references the row is searched by (`Patient/<id>`), without building it. */
  refs(id: string): readonly string[];
}

/** One version of one resource. */
export interface Row {
  readonly id: string;
  /** meta.lastUpdated in epoch ms. */
  readonly ms: number;
  readonly version: number;
  /** The full resource, or undefined for a generated row (`gen` builds it). */
  readonly body: StoredResource | undefined;
  readonly gen: GeneratedKind | undefined;
}

/** (ms, id) order: the order of every search page and export file. */
export function compareRows(a: { ms: number; id: string }, b: { ms: number; id: string }): number {
  return a.ms - b.ms || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** The first index in [lo, hi) whose row satisfies `pred` (which must be false…false true…true over the range). */
export function lowerBound<T>(rows: readonly T[], lo: number, hi: number, pred: (row: T) => boolean): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pred(rows[mid]!)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

class TypeTable {
  readonly byId = new Map<string, Row>();
  /** byId's rows in (ms, id) order; rebuilt lazily after a bulk load, kept in place by single puts. */
  sorted: Row[] | undefined;
  /** Reference (`Patient/P1-1`) → ids of rows that hold it; one id is kept as a string (most references have one). */
  readonly refIndex = new Map<string, string | Set<string>>();
  readonly history = new Map<string, Row[]>();
  /** Deleted id → its last version. */
  readonly deleted = new Map<string, number>();
}

const TYPE = /^[A-Z][A-Za-z]{1,63}$/;
const ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** `Patient/1`, `https://host/fhir/Patient/1/_history/2` → `Patient/1`; anything else → undefined. */
export function normalizeRef(ref: unknown): string | undefined {
  if (typeof ref !== 'string') return undefined;
  const m = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(ref);
  return m === null ? undefined : `${m[1]}/${m[2]}`;
}

function referenceOf(x: unknown): unknown {
  return typeof x === 'object' && x !== null ? (x as { reference?: unknown }).reference : undefined;
}

/** The references a search by `patient` / `actor` looks at: patient, subject, and Appointment participants. */
export function refsOf(r: FhirResource): string[] {
  const out = [normalizeRef(referenceOf(r.patient)), normalizeRef(referenceOf(r.subject))];
  if (Array.isArray(r.participant)) for (const p of r.participant as unknown[]) out.push(normalizeRef(referenceOf((p as { actor?: unknown } | null)?.actor)));
  return [...new Set(out.filter((x): x is string => x !== undefined))];
}

export class ResourceStore {
  private readonly tables = new Map<string, TypeTable>();
  private idCounter = 0;

  constructor(private readonly now: () => Date) {}

  /** Types that hold at least one resource. */
  types(): string[] {
    return [...this.tables].filter(([, t]) => t.byId.size > 0).map(([type]) => type).sort();
  }

  count(type: string): number {
    return this.tables.get(type)?.byId.size ?? 0;
  }

  /** Create or update: assigns an id when missing, versionId = previous + 1, meta.lastUpdated = now(). */
  put(resource: FhirResource): StoredResource {
    const type = resource.resourceType;
    if (typeof type !== 'string' || !TYPE.test(type)) throw new Error('put: resourceType must be a FHIR type name');
    const id = resource.id ?? `gen-${++this.idCounter}`;
    if (!ID.test(id)) throw new Error(`put: "${id}" is not a FHIR id`);
    const table = this.table(type);
    const version = this.lastVersion(table, id) + 1;
    const ms = this.now().getTime();
    const { resourceType: _t, id: _i, meta, ...rest } = structuredClone(resource);
    const body: StoredResource = { resourceType: type, id, meta: { ...meta, versionId: String(version), lastUpdated: new Date(ms).toISOString() }, ...rest };
    this.replace(table, type, { id, ms, version, body, gen: undefined }, true);
    return structuredClone(body);
  }

  /** Bulk create/update of generated rows, all at one now(). Returns how many. */
  putGenerated(type: string, ids: Iterable<string>, gen: GeneratedKind): number {
    const table = this.table(type);
    const ms = this.now().getTime();
    let n = 0;
    for (const id of ids) {
      this.replace(table, type, { id, ms, version: this.lastVersion(table, id) + 1, body: undefined, gen }, false);
      n++;
    }
    table.sorted = undefined;
    return n;
  }

  /** Removes a resource; a read then answers 410. False when there was none. */
  delete(type: string, id: string): boolean {
    const table = this.tables.get(type);
    const old = table?.byId.get(id);
    if (table === undefined || old === undefined) return false;
    this.unindex(table, type, old);
    table.byId.delete(id);
    table.deleted.set(id, old.version);
    this.pushHistory(table, old);
    return true;
  }

  /** The current row, 'gone' when deleted, undefined when never stored. */
  row(type: string, id: string): Row | 'gone' | undefined {
    const table = this.tables.get(type);
    return table?.byId.get(id) ?? (table?.deleted.has(id) === true ? 'gone' : undefined);
  }

  /** One version (current or past). */
  versionRow(type: string, id: string, version: number): Row | undefined {
    const table = this.tables.get(type);
    const current = table?.byId.get(id);
    if (current?.version === version) return current;
    return table?.history.get(id)?.find((r) => r.version === version);
  }

  /** All rows of a type in (ms, id) order. Do not modify. */
  sorted(type: string): readonly Row[] {
    const table = this.tables.get(type);
    if (table === undefined) return [];
    table.sorted ??= [...table.byId.values()].sort(compareRows);
    return table.sorted;
  }

  /** The rows with these ids, in (ms, id) order. */
  rowsById(type: string, ids: Iterable<string>): Row[] {
    const table = this.tables.get(type);
    const out = new Set<Row>();
    for (const id of ids) {
      const r = table?.byId.get(id);
      if (r !== undefined) out.add(r);
    }
    return [...out].sort(compareRows);
  }

  /** The rows that hold one of these references (`Patient/1`), in (ms, id) order. */
  rowsByRef(type: string, refs: Iterable<string>): Row[] {
    const table = this.tables.get(type);
    const ids: string[] = [];
    for (const ref of refs) {
      const hit = table?.refIndex.get(ref);
      if (typeof hit === 'string') ids.push(hit);
      else if (hit !== undefined) ids.push(...hit);
    }
    return this.rowsById(type, ids);
  }

  /** The resource of a row (built for a generated row). The caller must not modify it. */
  resource(type: string, row: Row): StoredResource {
    if (row.body !== undefined) return row.body;
    const meta = { versionId: String(row.version), lastUpdated: new Date(row.ms).toISOString() };
    const { resourceType: _t, id: _i, meta: _m, ...rest } = row.gen!.build(row.id, meta);
    return { resourceType: type, id: row.id, meta, ...rest };
  }

  private table(type: string): TypeTable {
    let t = this.tables.get(type);
    if (t === undefined) this.tables.set(type, (t = new TypeTable()));
    return t;
  }

  private lastVersion(table: TypeTable, id: string): number {
    return table.byId.get(id)?.version ?? table.deleted.get(id) ?? 0;
  }

  private replace(table: TypeTable, type: string, row: Row, keepSorted: boolean): void {
    const old = table.byId.get(row.id);
    if (old !== undefined) {
      this.unindex(table, type, old);
      this.pushHistory(table, old);
    }
    table.byId.set(row.id, row);
    table.deleted.delete(row.id);
    for (const ref of this.refsOfRow(type, row)) {
      const hit = table.refIndex.get(ref);
      if (hit === undefined) table.refIndex.set(ref, row.id);
      else if (typeof hit === 'string') table.refIndex.set(ref, new Set([hit, row.id]));
      else hit.add(row.id);
    }
    if (keepSorted && table.sorted !== undefined) {
      const s = table.sorted;
      s.splice(lowerBound(s, 0, s.length, (r) => compareRows(r, row) > 0), 0, row);
    } else if (!keepSorted) {
      table.sorted = undefined;
    }
  }

  private unindex(table: TypeTable, type: string, old: Row): void {
    for (const ref of this.refsOfRow(type, old)) {
      const hit = table.refIndex.get(ref);
      if (hit === old.id) table.refIndex.delete(ref);
      else if (typeof hit === 'object') {
        hit.delete(old.id);
        if (hit.size === 0) table.refIndex.delete(ref);
      }
    }
    const s = table.sorted;
    if (s !== undefined) {
      const i = lowerBound(s, 0, s.length, (r) => compareRows(r, old) >= 0);
      if (s[i] === old) s.splice(i, 1);
      else table.sorted = undefined;
    }
  }

  private refsOfRow(type: string, row: Row): readonly string[] {
    return row.gen !== undefined ? row.gen.refs(row.id) : refsOf(this.resource(type, row));
  }

  private pushHistory(table: TypeTable, row: Row): void {
    const h = table.history.get(row.id);
    if (h === undefined) table.history.set(row.id, [row]);
    else h.push(row);
  }
}
