/**
 * The paging half of the backfill (backfill.ts), for servers without `$export`: per type a search sorted by
 * `_lastUpdated` (from `since` when given), following `next` links; each page is one transaction with the cursor
 * `{type, next}`. A resumed run continues at the stored next page, or reads the type again from its first page
 * when the server no longer knows the link (the rows stored already are duplicates). With `relatedPersonSearch:
 * per-patient`, each page of Patients brings its RelatedPersons into the same transaction, as the poller does.
 */
import type { BackfillRun } from './backfill';
import type { BatchEntry, PagingPosition } from './backfill-state';
import type { FhirBundle } from './fhir-http';
import { resourceItem, stampOf } from './inbox-items';

/** Runs (or resumes) the paging backfill; resolves once the last page and the done cursor are committed. */
export async function runPaging(run: BackfillRun, resume: PagingPosition | undefined): Promise<void> {
  const perPatient = run.relatedPersonSearch === 'per-patient';
  const types = run.types.filter((t) => !(perPatient && t === 'RelatedPerson'));
  const newest: Record<string, string> = { ...resume?.newest };
  const at = resume === undefined ? -1 : types.indexOf(resume.type as (typeof types)[number]);
  const start = Math.max(0, at);
  run.report({ phase: 'downloading' });
  for (let t = start; t < types.length; t++) {
    const type = types[t]!;
    let page: FhirBundle | undefined = await firstPage(run, type, t === at ? resume?.next : undefined);
    while (page !== undefined) {
      const resources = found(page);
      const related = perPatient && type === 'Patient' ? await relatedPersonsOf(run, resources) : [];
      const batch: BatchEntry[] = [...resources.map((r) => entryOf(run, type, r)), ...related.map((r) => entryOf(run, 'RelatedPerson', r))];
      for (const r of resources) noteNewest(newest, type, r);
      for (const r of related) noteNewest(newest, 'RelatedPerson', r);
      const next: string | undefined = page.link?.find((l) => l.relation === 'next')?.url;
      if (next !== undefined) await run.commit(batch, { mode: 'paging', type, next, newest: { ...newest } });
      else if (t + 1 < types.length) await run.commit(batch, { mode: 'paging', type: types[t + 1]!, newest: { ...newest } });
      else return run.commit(batch, { done: true, mode: 'paging' }, newest);
      page = next === undefined ? undefined : await run.http.nextPage(page);
    }
  }
  await run.commit([], { done: true, mode: 'paging' }, newest);
}

async function firstPage(run: BackfillRun, type: string, next: string | undefined): Promise<FhirBundle> {
  if (next !== undefined) {
    try {
      const page = await run.http.nextPage({ resourceType: 'Bundle', link: [{ relation: 'next', url: next }] });
      if (page !== undefined) return page;
    } catch (e) {
      // Paging links expire: the type is read again (what it already stored counts as duplicates).
      run.log.warn('stored next-page link no longer works: the type is read again from its first page', { type, error: e });
    }
  }
  const params: Record<string, string | number> = { _count: run.pageSize, _sort: '_lastUpdated' };
  if (run.since !== undefined) params._lastUpdated = `ge${run.since}`;
  return run.http.search(type, params);
}

function found(page: FhirBundle): unknown[] {
  return (page.entry ?? []).filter((e) => e.search?.mode !== 'include' && e.search?.mode !== 'outcome').map((e) => e.resource);
}

async function relatedPersonsOf(run: BackfillRun, patients: readonly unknown[]): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const patient of patients) {
    const stamp = stampOf(patient);
    if (typeof stamp === 'string' || stamp.type !== 'Patient') continue;
    let page: FhirBundle | undefined = await run.http.search('RelatedPerson', { patient: stamp.id, _count: run.pageSize });
    while (page !== undefined) {
      out.push(...found(page));
      page = page.link?.some((l) => l.relation === 'next') === true ? await run.http.nextPage(page) : undefined;
    }
  }
  return out;
}

function entryOf(run: BackfillRun, type: string, resource: unknown): BatchEntry {
  return { type, item: resourceItem(resource, run.name, run.now()) };
}

/** Keeps in `newest[type]` the later of it and the resource's meta.lastUpdated (UTC with milliseconds). */
function noteNewest(newest: Record<string, string>, type: string, resource: unknown): void {
  const stamp = stampOf(resource);
  const seen = typeof stamp === 'string' || stamp.lastUpdated === undefined ? Number.NaN : Date.parse(stamp.lastUpdated);
  if (Number.isNaN(seen)) return;
  const current = newest[type] === undefined ? Number.NaN : Date.parse(newest[type]);
  if (Number.isNaN(current) || seen > current) newest[type] = new Date(seen).toISOString();
}
