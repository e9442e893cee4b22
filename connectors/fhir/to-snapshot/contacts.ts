import { AUTHORITIES, RELATIONSHIPS, type Authority, type Contact, type Relationship, type SnapshotOp } from '../../../src/core/model';
import { CONTACT_FIELDS, type ContactFieldName, type ContactSource, type Mapping } from '../../../src/core/mapping/types';
import { BridgeError } from '../../../src/errors';
import { fieldReader, referenceId, type FieldReader } from './fields';
import type { FhirObject } from './entries';

/** Where a contact row sits: what the fields cannot say. */
export interface RowContext {
  readonly patientId: string;
  readonly origin: string;
  readonly rowKey?: string;
  /** Used when the source maps no `version` (a Patient.contact row takes its Patient's version). */
  readonly sourceVersion: string;
}

/** Builds one Contact from a row (a RelatedPerson, or one Patient.contact element) through the source's fields. */
export function readContact(f: FieldReader<ContactFieldName>, row: RowContext): Contact {
  const contactId = f.text('contactId');
  const relationshipCode = f.raw('relationship');
  const email = f.text('email');
  const cellPhone = f.text('cellPhone');
  const birthDate = f.text('birthDate');
  return {
    patientId: row.patientId,
    ...(contactId !== undefined && { contactId }),
    name: { given: f.text('givenName') ?? '', family: f.text('familyName') ?? '' },
    relationship: oneOf<Relationship>(RELATIONSHIPS, f.text('relationship'), 'unknown'),
    ...(relationshipCode !== undefined && { relationshipCode }),
    authority: oneOf<Authority>(AUTHORITIES, f.text('authority'), 'unknown'),
    ...(email !== undefined && { email }),
    ...(cellPhone !== undefined && { cellPhone }),
    ...(birthDate !== undefined && { birthDate }),
    flags: {
      noAccess: f.flag('noAccess') ?? false,
      declined: f.flag('declined') ?? false,
      staffCreated: f.flag('staffCreated') ?? false,
      limitedAccess: f.flag('limitedAccess') ?? false,
    },
    sourceVersion: f.text('version') ?? row.sourceVersion,
    origin: row.origin,
    ...(row.rowKey !== undefined && { rowKey: row.rowKey }),
  };
}

function oneOf<T extends string>(allowed: readonly T[], value: string | undefined, fallback: T): T {
  return value !== undefined && (allowed as readonly string[]).includes(value) ? (value as T) : fallback;
}

/**
 * RelatedPerson → one `upsert-contacts` (mode merge, origin RelatedPerson) per `from: RelatedPerson` source:
 * the resource is one row of its patient, keyed `RelatedPerson/<id>`, so the same guardian sent as a different
 * RelatedPerson per child stays one row per chart. Throws ERR_MAPPING_MISSING_FIELD without an id or a patient.
 */
export function mapRelatedPerson(resource: FhirObject, mapping: Mapping, warnings: string[]): SnapshotOp[] {
  const sources = mapping.contacts.filter((s) => s.from === 'RelatedPerson');
  if (sources.length === 0) {
    warnings.push('the mapping has no RelatedPerson contact source; resource ignored');
    return [];
  }
  const id = typeof resource.id === 'string' && resource.id.trim() !== '' ? resource.id.trim() : undefined;
  if (id === undefined) throw new BridgeError('ERR_MAPPING_MISSING_FIELD', 'RelatedPerson has no id (needed to tell its row apart)');
  return sources.map((source: ContactSource): SnapshotOp => {
    const f = fieldReader(resource, source.fields, CONTACT_FIELDS, mapping, warnings);
    const patient = f.text('patientId');
    if (patient === undefined) throw new BridgeError('ERR_MAPPING_MISSING_FIELD', 'RelatedPerson names no patient (field patientId)');
    const contact = readContact(f, { patientId: referenceId(patient), origin: 'RelatedPerson', rowKey: `RelatedPerson/${id}`, sourceVersion: '' });
    return { kind: 'upsert-contacts', mode: 'merge', origin: 'RelatedPerson', patientId: contact.patientId, contacts: [contact], sourceVersion: contact.sourceVersion };
  });
}
