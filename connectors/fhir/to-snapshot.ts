import type { MappedInput } from '../../src/core/mapping/mapped-input';
import type { Mapping } from '../../src/core/mapping/types';
import type { SnapshotOp } from '../../src/core/model';
import { BridgeError, isBridgeError } from '../../src/errors';
import { mapAppointment } from './to-snapshot/appointment';
import { mapRelatedPerson } from './to-snapshot/contacts';
import { collectEntries, type FhirObject } from './to-snapshot/entries';
import { mapPatient } from './to-snapshot/patient';

/**
 * FHIR R4 → canonical snapshot ops (DESIGN §2, §8). Pure: no I/O, no clock. See connectors/fhir/README.md.
 */

/** A resource inside the input that could not be translated; the other resources still count. */
export interface RejectedResource {
  /** `Type/id`, or `Type@entry[3]` when the resource has no id, or the entry path when it is not a resource. */
  readonly controlId: string;
  /** The resource type, when there is one. */
  readonly event?: string;
  /** Why, in one line without patient data (ERR_MAPPING_MISSING_FIELD, ERR_FHIR_UNPARSEABLE…). */
  readonly error: BridgeError;
  readonly warnings: readonly string[];
}

/** A resource that was translated: a MappedInput, with no `error`. */
export type MappedResource = MappedInput & { readonly error?: undefined };

/**
 * What one resource of the input became. `error` tells them apart: absent on a MappedResource, set on a
 * RejectedResource (or use isRejected).
 */
export type FhirTranslation = MappedResource | RejectedResource;

/** True for a resource that was rejected. */
export function isRejected(t: FhirTranslation): t is RejectedResource {
  return t.error !== undefined;
}

const MAPPERS: ReadonlyMap<string, (r: FhirObject, m: Mapping, w: string[]) => SnapshotOp[]> = new Map([
  ['Patient', mapPatient],
  ['RelatedPerson', mapRelatedPerson],
  ['Appointment', mapAppointment],
]);

/**
 * Translates one FHIR input — a resource, a Bundle of any type (nested Bundles too), or the `{fullUrl, resource}`
 * wrapper; parsed JSON or JSON text — into one entry per Patient, RelatedPerson and Appointment, in input order
 * (`controlId` = `Type/id`, `event` = the type). Other resource types are skipped. An input that holds none of these
 * gives one MappedInput without ops and the warning "no Patient, RelatedPerson or Appointment resource".
 *
 * A resource that cannot be mapped (a Patient without an id, a RelatedPerson without a patient) becomes a
 * RejectedResource and the rest of the input is still translated. Throws BridgeError ERR_FHIR_UNPARSEABLE when
 * the input itself is not FHIR JSON (not an object, no resourceType), and ERR_MAPPING_INVALID_FILE when `mapping`
 * is not a FHIR mapping. Deterministic: the same input and mapping give the same result.
 */
export function fhirToSnapshot(json: unknown, mapping: Mapping): FhirTranslation[] {
  if (mapping.format !== 'fhir') {
    throw new BridgeError('ERR_MAPPING_INVALID_FILE', `mapping "${mapping.name}" is for ${mapping.format}, not FHIR`);
  }
  const { top, entries } = collectEntries(json);
  const out: FhirTranslation[] = [];
  for (const entry of entries) {
    if (entry.kind === 'unreadable') {
      out.push({ controlId: entry.at, error: new BridgeError('ERR_FHIR_UNPARSEABLE', entry.reason), warnings: [] });
      continue;
    }
    const { resource, at } = entry;
    const mapper = MAPPERS.get(resource.resourceType);
    if (mapper === undefined) continue;
    const controlId = controlIdOf(resource, at);
    const warnings: string[] = [];
    try {
      out.push({ controlId, event: resource.resourceType, ops: mapper(resource, mapping, warnings), warnings });
    } catch (e) {
      if (!isBridgeError(e)) throw e;
      out.push({ controlId, event: resource.resourceType, error: e, warnings });
    }
  }
  if (out.length === 0) {
    out.push({ controlId: controlIdOf(top, undefined), event: top.resourceType, ops: [], warnings: ['no Patient, RelatedPerson or Appointment resource'] });
  }
  return out;
}

function controlIdOf(resource: FhirObject, at: string | undefined): string {
  const id = typeof resource.id === 'string' ? resource.id.trim() : '';
  if (id !== '') return `${resource.resourceType}/${id}`;
  return at === undefined ? resource.resourceType : `${resource.resourceType}@${at}`;
}
