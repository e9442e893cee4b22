import { APPOINTMENT_STATUSES, type Appointment, type AppointmentStatus, type SnapshotOp } from '../../../src/core/model';
import { APPOINTMENT_FIELDS, type Mapping } from '../../../src/core/mapping/types';
import { BridgeError } from '../../../src/errors';
import type { FhirObject } from './entries';
import { fieldReader, referenceId } from './fields';

/**
 * Appointment → `upsert-appointment` through `mapping.appointment`. The patient is the participant whose actor
 * references a Patient (the mapping's patientId path). Throws ERR_MAPPING_MISSING_FIELD without an id or a patient.
 */
export function mapAppointment(resource: FhirObject, mapping: Mapping, warnings: string[]): SnapshotOp[] {
  if (mapping.appointment.id === undefined) {
    warnings.push('the mapping maps no appointments; resource ignored');
    return [];
  }
  const f = fieldReader(resource, mapping.appointment, APPOINTMENT_FIELDS, mapping, warnings);
  const id = f.text('id');
  if (id === undefined) throw new BridgeError('ERR_MAPPING_MISSING_FIELD', 'Appointment has no id (field id)');
  const patient = f.text('patientId');
  if (patient === undefined) throw new BridgeError('ERR_MAPPING_MISSING_FIELD', 'Appointment has no Patient participant (field patientId)');
  const start = f.text('start');
  const location = f.text('location');
  const provider = f.text('provider');
  const status = f.text('status');
  const appointment: Appointment = {
    id,
    patientId: referenceId(patient),
    ...(start !== undefined && { start }),
    ...(location !== undefined && { location }),
    ...(provider !== undefined && { provider }),
    status: status !== undefined && (APPOINTMENT_STATUSES as readonly string[]).includes(status) ? (status as AppointmentStatus) : 'unknown',
    sourceVersion: f.text('version') ?? '',
  };
  return [{ kind: 'upsert-appointment', appointment }];
}
