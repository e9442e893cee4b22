/**
 * The FHIR R4 poller (issue #5, DESIGN §2, §6): for each resource type, `_lastUpdated=gt<cursor − overlap>`
 * sorted by `_lastUpdated`, paging through `next` links. Each page's resources go to the inbox (one row per
 * resource version, inbox-items.ts) in the SAME transaction that records the poller's progress, so a restart at
 * any point neither skips a change nor applies one twice:
 *
 * - the cursor of a type (`fhir:<channel>:<Type>`) holds `since` — every change up to it is stored — and, while a
 *   traversal is under way, the next page's URL and the newest `lastUpdated` seen so far. `since` moves only
 *   when a traversal ends, so a server that ignores `_sort` cannot make us skip; a restart resumes at the stored
 *   next URL (or, when the server no longer knows it, runs the traversal again: the rows already stored are
 *   duplicates);
 * - the overlap window (`overlapMs`) re-reads the last moments before `since`, so changes with equal timestamps,
 *   or committed late by the server, are not missed; what was already stored is a duplicate by id + versionId.
 * - `relatedPersonSearch: per-patient` is for servers that search RelatedPerson only by patient: after a page of
 *   Patients, each patient's RelatedPersons are fetched and stored with that page.
 * - A resource that is not usable (no resourceType, no id) is stored as rejected with the reason; the rest of the
 *   page goes on. Mapping problems are found by the ingest worker, which rejects that row alone.
 * Deletions are not seen by a search: a RelatedPerson removed in the EHR stays until the EHR marks it inactive.
 */
import type { Logger } from '../../src/log';
import type { Store } from '../../src/store';
import type { FhirBundle, FhirHttp } from './fhir-http';
import { resourceItem, stampOf } from './inbox-items';

export const POLLED_TYPES = ['Patient', 'RelatedPerson', 'Appointment'] as const;
export type PolledType = (typeof POLLED_TYPES)[number];

export interface FhirPollerOptions {
  /** The channel: inbox source and cursor names. */
  readonly name: string;
  readonly http: FhirHttp;
  readonly store: Pick<Store, 'transaction' | 'cursors'>;
  readonly log: Logger;
  /** Default: Patient, RelatedPerson, Appointment. */
  readonly resourceTypes?: readonly PolledType[];
  /** `search` (default): RelatedPerson?_lastUpdated=…; `per-patient`: RelatedPerson?patient=<id> after each Patient page. */
  readonly relatedPersonSearch?: 'search' | 'per-patient';
  /** How far before the cursor each poll looks again (default 60 s). */
  readonly overlapMs?: number;
  /** `_count` per page (default 100). */
  readonly pageSize?: number;
  readonly now?: () => Date;
  readonly onStored?: () => void;
}

/** One poll's outcome per type. */
export interface PollReport {
  readonly pages: number;
  readonly resources: number;
  readonly fresh: number;
  readonly duplicate: number;
  readonly rejected: number;
}

/** A type's progress (the cursor's JSON). */
interface TypeCursor {
  /** Every change with lastUpdated ≤ since is stored (RFC 3339). */
  readonly since?: string;
  /** A traversal under way: the next page, and the newest lastUpdated it has stored. */
  readonly next?: string;
  readonly newest?: string;
}

export interface FhirPoller {
  /** Polls every type once, page by page, until no `next` link is left. */
  pollOnce(): Promise<Record<string, PollReport>>;
  /** Forgets every cursor of this channel: the next poll reads everything again (duplicates are not re-applied). */
  resetCursors(): Promise<void>;
}

export function cursorName(channel: string, type: string): string {
  return `fhir:${channel}:${type}`;
}

export function createFhirPoller(options: FhirPollerOptions): FhirPoller {
  const types = options.resourceTypes ?? POLLED_TYPES;
  const perPatient = options.relatedPersonSearch === 'per-patient';
  const overlapMs = options.overlapMs ?? 60_000;
  const pageSize = options.pageSize ?? 100;
  const now = options.now ?? (() => new Date());
  const log = options.log.child({ channel: options.name, connector: 'fhir-poll' });

  const pollType = async (type: PolledType): Promise<PollReport> => {
    const name = cursorName(options.name, type);
    const cursor = parseCursor(await options.store.cursors.getCursor(name));
    const report = { pages: 0, resources: 0, fresh: 0, duplicate: 0, rejected: 0 };
    let newest = cursor.newest;
    let page = await firstPage(type, cursor);
    while (page !== undefined) {
      const resources = (page.entry ?? []).filter((e) => e.search?.mode !== 'include' && e.search?.mode !== 'outcome').map((e) => e.resource);
      const extra = perPatient && type === 'Patient' ? await relatedPersonsOf(resources) : [];
      const at = now();
      const items = [...resources, ...extra].map((r) => resourceItem(r, options.name, at));
      for (const r of resources) newest = later(newest, stampLastUpdated(r));
      const next = page.link?.find((l) => l.relation === 'next')?.url;
      const value: TypeCursor = next === undefined ? { ...(later(cursor.since, newest) !== undefined && { since: later(cursor.since, newest) }) } : { ...cursorSince(cursor), next, ...(newest !== undefined && { newest }) };
      const results = await options.store.transaction(async (tx) => {
        const stored = await tx.inbox.acceptInbox(items);
        await tx.cursors.setCursor(name, JSON.stringify(value), { now: at });
        return stored;
      });
      report.pages += 1;
      report.resources += items.length;
      results.forEach((r, i) => {
        if (r.duplicate) report.duplicate += 1;
        else if (items[i]?.status === 'rejected') report.rejected += 1;
        else report.fresh += 1;
      });
      if (results.some((r) => !r.duplicate)) options.onStored?.();
      page = next === undefined ? undefined : await options.http.nextPage(page);
    }
    return report;
  };

  const firstPage = async (type: PolledType, cursor: TypeCursor): Promise<FhirBundle | undefined> => {
    if (cursor.next !== undefined) {
      try {
        return await options.http.nextPage({ resourceType: 'Bundle', link: [{ relation: 'next', url: cursor.next }] });
      } catch (e) {
        // Paging links expire: read the traversal again from `since` (what it already stored is a duplicate).
        log.warn('stored next-page link no longer works: the traversal starts again from the cursor', { type, error: e });
      }
    }
    const params: Record<string, string | number> = { _count: pageSize, _sort: '_lastUpdated' };
    if (cursor.since !== undefined) params._lastUpdated = `gt${new Date(Date.parse(cursor.since) - overlapMs).toISOString()}`;
    return options.http.search(type, params);
  };

  const relatedPersonsOf = async (patients: readonly unknown[]): Promise<unknown[]> => {
    const out: unknown[] = [];
    for (const patient of patients) {
      const stamp = stampOf(patient);
      if (typeof stamp === 'string' || stamp.type !== 'Patient') continue;
      let page: FhirBundle | undefined = await options.http.search('RelatedPerson', { patient: stamp.id, _count: pageSize });
      while (page !== undefined) {
        for (const e of page.entry ?? []) if (e.search?.mode !== 'include' && e.search?.mode !== 'outcome') out.push(e.resource);
        page = page.link?.some((l) => l.relation === 'next') === true ? await options.http.nextPage(page) : undefined;
      }
    }
    return out;
  };

  return {
    async pollOnce() {
      const out: Record<string, PollReport> = {};
      for (const type of types) {
        if (type === 'RelatedPerson' && perPatient) continue;
        out[type] = await pollType(type);
        const r = out[type];
        if (r.fresh + r.rejected > 0) log.info('FHIR poll stored changes', { type, ...r });
        else log.debug('FHIR poll: nothing new', { type, ...r });
      }
      return out;
    },
    async resetCursors() {
      await options.store.transaction(async (tx) => {
        for (const type of POLLED_TYPES) await tx.cursors.deleteCursor(cursorName(options.name, type));
      });
    },
  };
}

function parseCursor(value: string | undefined): TypeCursor {
  if (value === undefined) return {};
  try {
    const parsed = JSON.parse(value) as TypeCursor;
    return typeof parsed === 'object' && parsed !== null ? parsed : {};
  } catch {
    // An older or hand-written cursor that is a bare instant.
    return Number.isNaN(Date.parse(value)) ? {} : { since: value };
  }
}

function cursorSince(cursor: TypeCursor): { since?: string } {
  return cursor.since === undefined ? {} : { since: cursor.since };
}

function stampLastUpdated(resource: unknown): string | undefined {
  const stamp = stampOf(resource);
  return typeof stamp === 'string' ? undefined : stamp.lastUpdated;
}

/** The later of two instants (RFC 3339, any offset or precision), normalised to UTC with milliseconds. */
function later(a: string | undefined, b: string | undefined): string | undefined {
  const ta = a === undefined ? Number.NaN : Date.parse(a);
  const tb = b === undefined ? Number.NaN : Date.parse(b);
  if (Number.isNaN(ta) && Number.isNaN(tb)) return undefined;
  if (Number.isNaN(tb) || ta >= tb) return new Date(ta).toISOString();
  return new Date(tb).toISOString();
}
