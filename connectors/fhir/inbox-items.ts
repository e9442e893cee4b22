/**
 * A FHIR resource as an inbox row (DESIGN §2, §6), shared by the poller, the subscription receiver and the
 * backfill: one row per resource version, so a resource seen again (an overlap window, a notification after a
 * poll, a restarted backfill) is a duplicate and never applied twice.
 *
 * - dedupe key `Type/id/_history/versionId`; without a versionId `Type/id@lastUpdated`; without either a hash of
 *   the JSON text (then only the very same text is a duplicate).
 * - A resource that cannot be stored as FHIR (not an object, no resourceType, no id) is stored as `rejected`
 *   with the reason, keyed by its hash, and the rest of the page goes on.
 */
import { hashKey } from '../dedupe-key';
import type { NewInboxItem } from '../../src/store';

export interface FhirResourceShape {
  readonly resourceType?: unknown;
  readonly id?: unknown;
  readonly meta?: { readonly versionId?: unknown; readonly lastUpdated?: unknown };
}

/** What the poller reads of a resource: where it is in time, for the cursor. */
export interface ResourceStamp {
  readonly type: string;
  readonly id: string;
  readonly versionId?: string;
  readonly lastUpdated?: string;
}

/** The resource's type, id, versionId and lastUpdated, or a one-line reason why it is not a usable resource. */
export function stampOf(resource: unknown): ResourceStamp | string {
  if (resource === null || typeof resource !== 'object' || Array.isArray(resource)) return 'the entry is not a JSON object';
  const r = resource as FhirResourceShape;
  if (typeof r.resourceType !== 'string' || !/^[A-Z][A-Za-z]+$/.test(r.resourceType)) return 'the resource has no resourceType';
  if (typeof r.id !== 'string' || !/^[A-Za-z0-9\-.]{1,64}$/.test(r.id)) return `the ${r.resourceType} has no valid id`;
  const versionId = typeof r.meta?.versionId === 'string' && r.meta.versionId !== '' ? r.meta.versionId : undefined;
  const lastUpdated = typeof r.meta?.lastUpdated === 'string' && r.meta.lastUpdated !== '' ? r.meta.lastUpdated : undefined;
  return { type: r.resourceType, id: r.id, ...(versionId !== undefined && { versionId }), ...(lastUpdated !== undefined && { lastUpdated }) };
}

/** The inbox row for one resource of a page, notification or export file. */
export function resourceItem(resource: unknown, source: string, receivedAt: Date): NewInboxItem {
  const raw = JSON.stringify(resource) ?? 'null';
  const stamp = stampOf(resource);
  if (typeof stamp === 'string') {
    return { source, dedupeKey: hashKey(raw), format: 'fhir', raw, receivedAt, status: 'rejected', errorCode: 'ERR_FHIR_UNPARSEABLE', error: stamp };
  }
  const controlId = `${stamp.type}/${stamp.id}`;
  const dedupeKey =
    stamp.versionId !== undefined ? `${controlId}/_history/${stamp.versionId}` : stamp.lastUpdated !== undefined ? `${controlId}@${stamp.lastUpdated}` : hashKey(raw);
  return { source, dedupeKey, controlId, format: 'fhir', raw, receivedAt };
}
