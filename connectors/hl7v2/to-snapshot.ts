import type { ParsedHl7 } from '../../src/core/hl7/message';
import type { MappedInput } from '../../src/core/mapping/mapped-input';
import type { EventRule, Mapping } from '../../src/core/mapping/types';
import type { SnapshotOp } from '../../src/core/model';
import { BridgeError } from '../../src/errors';
import { readAppointment, readContacts, readMerge, readPatient, readVersion } from './to-snapshot/records';
import { patientGroups, type PatientGroup } from './to-snapshot/scope';

/**
 * HL7 v2 message → canonical snapshot ops, per the mapping (DESIGN §2, §8). Pure and deterministic: the same
 * message and mapping always give the same ops, so a replay is harmless.
 *
 * - The event (`MSH-9.1^MSH-9.2`) picks the rule; an unlisted event is rejected (ERR_MAPPING_UNSUPPORTED_EVENT)
 *   or accepted with no ops, per `unknownEvents`.
 * - `upsert`: per patient group, the patient, then — only when the message carries the contact source's segment
 *   (NK1) at all — that patient's full contact set of that origin (`replace`; `merge` when the policy says so).
 *   A message without NK1 leaves contacts untouched.
 * - `merge`: one merge-patient per PID/MRG pair. `appointment`: the patient when PID gives an id, then the
 *   appointment. `ignore`: nothing.
 * Rejections are BridgeErrors with one-line messages without patient data (ERR_MAPPING_MISSING_FIELD when the
 * patient / survivor / merged / appointment id is empty).
 */
export function hl7ToSnapshot(message: ParsedHl7, mapping: Mapping): MappedInput {
  const event = message.messageType;
  const base = { ...(message.controlId !== '' && { controlId: message.controlId }), event };
  const rule = mapping.events.get(event);
  if (rule === undefined) {
    if (mapping.unknownEvents === 'reject') {
      throw new BridgeError('ERR_MAPPING_UNSUPPORTED_EVENT', `message type ${event || '(empty MSH-9)'} is not handled by mapping ${mapping.name}`);
    }
    return { ...base, ops: [], warnings: [`message type ${event || '(empty MSH-9)'} is not handled by mapping ${mapping.name}; ignored`] };
  }
  const warnings: string[] = [];
  const ops: SnapshotOp[] = [];
  const groups = patientGroups(message);
  switch (rule.action) {
    case 'upsert':
      for (const group of groups) upsert(group, mapping, ops, warnings);
      break;
    case 'merge':
      groups.forEach((group, i) => merge(group, mapping, ops, warnings, groups.length > 1 ? i + 1 : undefined));
      break;
    case 'appointment':
      if (groups.length > 1) warnings.push(`appointment message has ${groups.length} PID segments; only the first patient is used`);
      appointment(groups[0] as PatientGroup, rule, mapping, ops, warnings);
      break;
    case 'ignore':
      break;
    default:
      return rule.action satisfies never;
  }
  return { ...base, ops, warnings };
}

function upsert(group: PatientGroup, mapping: Mapping, ops: SnapshotOp[], warnings: string[]): void {
  const patient = readPatient(group, mapping, warnings, true);
  if (patient === undefined) return;
  ops.push({ kind: 'upsert-patient', patient });
  const mode = mapping.policy.contactsUpdate === 'merge' ? 'merge' : 'replace';
  for (const source of mapping.contacts) {
    const { present, contacts } = readContacts(group, source, patient, mapping, warnings);
    if (!present) continue;
    ops.push({ kind: 'upsert-contacts', mode, origin: source.from, patientId: patient.id, contacts, sourceVersion: patient.sourceVersion });
  }
}

function merge(group: PatientGroup, mapping: Mapping, ops: SnapshotOp[], warnings: string[], pair: number | undefined): void {
  const { survivorId, mergedId } = readMerge(group, mapping, warnings, pair);
  if (survivorId === mergedId) {
    warnings.push(`merge${pair === undefined ? '' : ` pair #${pair}`} names the same record twice; ignored`);
    return;
  }
  ops.push({ kind: 'merge-patient', survivorId, mergedId, sourceVersion: readVersion(group, mapping, warnings) });
}

function appointment(group: PatientGroup, rule: EventRule, mapping: Mapping, ops: SnapshotOp[], warnings: string[]): void {
  const patient = readPatient(group, mapping, warnings, false);
  if (patient !== undefined) ops.push({ kind: 'upsert-patient', patient });
  ops.push({ kind: 'upsert-appointment', appointment: readAppointment(group, mapping, rule, patient, warnings) });
}
