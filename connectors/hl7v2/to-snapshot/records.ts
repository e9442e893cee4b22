import { APPOINTMENT_STATUSES, NO_FLAGS, type Appointment, type AppointmentStatus, type Authority, type Contact, type Patient, type Relationship } from '../../../src/core/model';
import { readField, type FieldValue } from '../../../src/core/mapping/values';
import {
  APPOINTMENT_FIELDS,
  CONTACT_FIELDS,
  MERGE_FIELDS,
  PATIENT_FIELDS,
  type ContactSource,
  type EventRule,
  type FieldSpec,
  type FieldType,
  type Mapping,
} from '../../../src/core/mapping/types';
import { BridgeError } from '../../../src/errors';
import { reader, RowScope, type PatientGroup, type Scope } from './scope';

/**
 * The canonical records of one patient group (patient, contact rows, appointment, merge pair), read with the
 * mapping's field specs through readField. Pure. Warnings name fields and segment numbers, never values.
 */

type Getter<K extends string> = (name: K) => FieldValue;

function fieldsOf<K extends string>(
  specs: Readonly<Partial<Record<K, FieldSpec>>>,
  types: Readonly<Record<K, FieldType>>,
  mapping: Mapping,
  scope: Scope,
  warnings: string[],
  label: string,
): Getter<K> {
  const read = reader(scope);
  return (name) => readField(`${label}${name}`, specs[name], types[name], mapping, read, warnings);
}

const str = (v: FieldValue): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const bool = (v: FieldValue): boolean | undefined => (typeof v === 'boolean' ? v : undefined);

/** "PID-3[5=MR].1 is empty" / "PID-3[5=MR].1, PID-3.1 are empty" / "… is not mapped". */
function emptyPaths(spec: FieldSpec | undefined, field: string): string {
  if (spec === undefined) return `${field} is not mapped`;
  return `${spec.paths.join(', ')} ${spec.paths.length === 1 ? 'is' : 'are'} empty`;
}

/**
 * The group's patient. `required`: an empty id throws ERR_MAPPING_MISSING_FIELD; otherwise it yields undefined
 * (an appointment message may carry no usable PID).
 */
export function readPatient(group: PatientGroup, mapping: Mapping, warnings: string[], required: boolean): Patient | undefined {
  const get = fieldsOf(mapping.patient, PATIENT_FIELDS, mapping, group, warnings, 'patient.');
  const id = str(get('id'));
  if (id === undefined) {
    if (!required) return undefined;
    throw new BridgeError('ERR_MAPPING_MISSING_FIELD', `no patient id: ${emptyPaths(mapping.patient.id, 'patient.id')}`);
  }
  const mrn = str(get('mrn'));
  const birthDate = str(get('birthDate'));
  const email = str(get('email'));
  const cellPhone = str(get('cellPhone'));
  const mergedInto = str(get('mergedInto'));
  const deceased = bool(get('deceased')) === true || str(get('deathDate')) !== undefined;
  return {
    id,
    ...(mrn !== undefined && { mrn }),
    name: { given: str(get('givenName')) ?? '', family: str(get('familyName')) ?? '' },
    ...(birthDate !== undefined && { birthDate }),
    deceased,
    active: bool(get('active')) ?? true,
    ...(mergedInto !== undefined && { mergedInto }),
    ...(email !== undefined && { email }),
    ...(cellPhone !== undefined && { cellPhone }),
    sourceVersion: str(get('version')) ?? '',
  };
}

/** The rows of one contact source in a group; `present` says whether the message carries that segment at all. */
export function readContacts(
  group: PatientGroup,
  source: ContactSource,
  patient: Patient,
  mapping: Mapping,
  warnings: string[],
): { present: boolean; contacts: Contact[] } {
  const contacts: Contact[] = [];
  let n = 0;
  group.segments.forEach((segment, index) => {
    if (segment.name !== source.from) return;
    n++;
    const label = `${source.from} #${n}`;
    const scope = new RowScope(segment, index, source.join, group);
    const get = fieldsOf(source.fields, CONTACT_FIELDS, mapping, scope, warnings, `${label} `);
    const given = str(get('givenName')) ?? '';
    const family = str(get('familyName')) ?? '';
    const email = str(get('email'));
    const contactId = str(get('contactId'));
    if (given === '' && family === '' && email === undefined && contactId === undefined) {
      warnings.push(`${label} is empty; ignored`);
      return;
    }
    const relSpec = source.fields.relationship;
    const relationshipCode = relSpec === undefined ? undefined : str(readField('relationship', { paths: relSpec.paths }, 'string', mapping, reader(scope), []));
    const cellPhone = str(get('cellPhone'));
    const birthDate = str(get('birthDate'));
    const flag = (name: 'noAccess' | 'declined' | 'staffCreated' | 'limitedAccess'): boolean => bool(get(name)) ?? NO_FLAGS[name];
    contacts.push({
      patientId: str(get('patientId')) ?? patient.id,
      ...(contactId !== undefined && { contactId }),
      name: { given, family },
      relationship: (str(get('relationship')) ?? 'unknown') as Relationship,
      ...(relationshipCode !== undefined && { relationshipCode }),
      authority: (str(get('authority')) ?? 'unknown') as Authority,
      ...(email !== undefined && { email }),
      ...(cellPhone !== undefined && { cellPhone }),
      ...(birthDate !== undefined && { birthDate }),
      flags: { noAccess: flag('noAccess'), declined: flag('declined'), staffCreated: flag('staffCreated'), limitedAccess: flag('limitedAccess') },
      sourceVersion: str(get('version')) ?? patient.sourceVersion,
      origin: source.from,
    });
  });
  return { present: n > 0, contacts };
}

/** One A40 pair: survivor (PID) and merged (MRG) ids. `pair` is set when the message holds several. */
export function readMerge(group: PatientGroup, mapping: Mapping, warnings: string[], pair: number | undefined): { survivorId: string; mergedId: string } {
  const get = fieldsOf(mapping.merge, MERGE_FIELDS, mapping, group, warnings, 'merge.');
  const where = pair === undefined ? '' : ` (pair #${pair})`;
  const survivorId = str(get('survivorId'));
  if (survivorId === undefined) throw new BridgeError('ERR_MAPPING_MISSING_FIELD', `no survivor id${where}: ${emptyPaths(mapping.merge.survivorId, 'merge.survivorId')}`);
  const mergedId = str(get('mergedId'));
  if (mergedId === undefined) throw new BridgeError('ERR_MAPPING_MISSING_FIELD', `no merged id${where}: ${emptyPaths(mapping.merge.mergedId, 'merge.mergedId')}`);
  return { survivorId, mergedId };
}

/** The appointment of an SIU message: status from its field, else the event's, else unknown. */
export function readAppointment(
  group: PatientGroup,
  mapping: Mapping,
  rule: EventRule,
  patient: Patient | undefined,
  warnings: string[],
): Appointment {
  const get = fieldsOf(mapping.appointment, APPOINTMENT_FIELDS, mapping, group, warnings, 'appointment.');
  const id = str(get('id'));
  if (id === undefined) throw new BridgeError('ERR_MAPPING_MISSING_FIELD', `no appointment id: ${emptyPaths(mapping.appointment.id, 'appointment.id')}`);
  const patientId = str(get('patientId')) ?? patient?.id;
  if (patientId === undefined) {
    throw new BridgeError('ERR_MAPPING_MISSING_FIELD', `no patient for the appointment: ${emptyPaths(mapping.patient.id, 'patient.id')}`);
  }
  const start = str(get('start'));
  const location = str(get('location'));
  const provider = str(get('provider'));
  return {
    id,
    patientId,
    ...(start !== undefined && { start }),
    ...(location !== undefined && { location }),
    ...(provider !== undefined && { provider }),
    status: (str(get('status')) ?? eventStatus(rule)) as AppointmentStatus,
    sourceVersion: str(get('version')) ?? patient?.sourceVersion ?? readVersion(group, mapping, warnings),
  };
}

function eventStatus(rule: EventRule): AppointmentStatus {
  const s = rule.appointmentStatus;
  return s !== undefined && (APPOINTMENT_STATUSES as readonly string[]).includes(s) ? (s as AppointmentStatus) : 'unknown';
}

/** The patient version field (MSH-7 by default) on its own, for messages without a usable patient. */
export function readVersion(group: PatientGroup, mapping: Mapping, warnings: string[]): string {
  return str(readField('patient.version', mapping.patient.version, PATIENT_FIELDS.version, mapping, reader(group), warnings)) ?? '';
}
