import { compileFhirPath, selectFhirElements } from '../../../src/core/mapping/fhir-path';
import { CONTACT_FIELDS, PATIENT_FIELDS, type ContactSource, type Mapping } from '../../../src/core/mapping/types';
import type { Contact, Patient, SnapshotOp } from '../../../src/core/model';
import { BridgeError, isBridgeError } from '../../../src/errors';
import { readContact } from './contacts';
import type { FhirObject } from './entries';
import { fieldReader, referenceId } from './fields';

/**
 * Patient → `upsert-patient`; then, per contact source rooted at the Patient (`from: Patient.contact`), an
 * `upsert-contacts` of every element (mode replace unless the policy says merge: Patient.contact is the full set,
 * so an empty list clears it); then `merge-patient` when a `replaced-by` link names a survivor.
 * Throws ERR_MAPPING_MISSING_FIELD when the patient id is empty.
 */
export function mapPatient(resource: FhirObject, mapping: Mapping, warnings: string[]): SnapshotOp[] {
  const f = fieldReader(resource, mapping.patient, PATIENT_FIELDS, mapping, warnings);
  const id = f.text('id');
  if (id === undefined) throw new BridgeError('ERR_MAPPING_MISSING_FIELD', 'Patient has no id (field id)');
  let mergedInto = mapped(f.text('mergedInto'));
  if (mergedInto === id) {
    warnings.push('mergedInto names the patient itself; ignored');
    mergedInto = undefined;
  }
  const mrn = f.text('mrn');
  const birthDate = f.text('birthDate');
  const email = f.text('email');
  const cellPhone = f.text('cellPhone');
  const patient: Patient = {
    id,
    ...(mrn !== undefined && { mrn }),
    name: { given: f.text('givenName') ?? '', family: f.text('familyName') ?? '' },
    ...(birthDate !== undefined && { birthDate }),
    deceased: f.flag('deceased') === true || f.text('deathDate') !== undefined,
    active: f.flag('active') ?? true,
    ...(mergedInto !== undefined && { mergedInto }),
    ...(email !== undefined && { email }),
    ...(cellPhone !== undefined && { cellPhone }),
    sourceVersion: f.text('version') ?? '',
  };
  const ops: SnapshotOp[] = [{ kind: 'upsert-patient', patient }];
  for (const source of mapping.contacts) {
    if (source.from === 'RelatedPerson') continue;
    if (!source.from.startsWith('Patient.')) {
      warnings.push(`contact source "${source.from}" is neither RelatedPerson nor rooted at Patient; skipped`);
      continue;
    }
    const contacts = elementContacts(resource, source, patient, mapping, warnings);
    if (contacts === undefined) continue;
    ops.push({
      kind: 'upsert-contacts',
      mode: mapping.policy.contactsUpdate === 'merge' ? 'merge' : 'replace',
      origin: source.from,
      patientId: id,
      contacts,
      sourceVersion: patient.sourceVersion,
    });
  }
  if (mergedInto !== undefined) ops.push({ kind: 'merge-patient', survivorId: mergedInto, mergedId: id, sourceVersion: patient.sourceVersion });
  return ops;
}

/** One contact per element the source's `from` selects; undefined (no op) when `from` cannot be evaluated. */
function elementContacts(resource: FhirObject, source: ContactSource, patient: Patient, mapping: Mapping, warnings: string[]): Contact[] | undefined {
  let elements;
  try {
    elements = selectFhirElements(compileFhirPath(source.from), resource);
  } catch (e) {
    if (!isBridgeError(e)) throw e;
    warnings.push(`contact source "${source.from}" could not be evaluated; its contacts are left unchanged`);
    return undefined;
  }
  // Patient.contact elements have no id of their own, so rows carry no rowKey: the list replaces them as a whole.
  return elements.map((el, i) =>
    readContact(fieldReader(el, source.fields, CONTACT_FIELDS, mapping, warnings, `${source.from}[${i}]`), {
      patientId: patient.id,
      origin: source.from,
      sourceVersion: patient.sourceVersion,
    }),
  );
}

function mapped(ref: string | undefined): string | undefined {
  return ref === undefined ? undefined : referenceId(ref);
}
