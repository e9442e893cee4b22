import { compareVersions, nameKey } from './identity';
import type { Appointment, Contact, Patient, Snapshot, SnapshotOp } from './model';

/** What applying one op did: `stale` when an older message lost to newer stored data (nothing changed). */
export type ApplyOutcome = 'applied' | 'stale';

/**
 * The in-memory snapshot that mapped messages are folded into, in arrival order (DESIGN §2, §8). The store
 * (issue 3) keeps the same semantics in SQL; this is the pure reference used by `mappings explain|test`.
 * - A newer source version is never overwritten by an older one (versions compare as RFC 3339 strings; an
 *   empty version is "unknown" and always applies).
 * - `upsert-contacts` `replace` replaces the patient's rows of the same origin; `merge` adds or updates rows
 *   matched by rowKey, else contactId, else name.
 * - `merge-patient` marks the merged record and copies its contacts to the survivor (rows the survivor already
 *   has win); the merged record keeps its rows so eligibility can say why their links go (R02). Contacts that
 *   arrive later for a merged record reach the survivor too, so the result does not depend on arrival order.
 *   An unknown survivor inherits the merged record's data under its own id.
 */
export class SnapshotBuilder implements Snapshot {
  readonly patients = new Map<string, Patient>();
  readonly contacts = new Map<string, Contact[]>();
  readonly appointments = new Map<string, Appointment>();

  /** Applies one op; returns whether it changed anything. */
  apply(op: SnapshotOp): ApplyOutcome {
    switch (op.kind) {
      case 'upsert-patient':
        return this.upsertPatient(op.patient, op.contacts);
      case 'upsert-contacts': {
        const outcome =
          op.mode === 'replace'
            ? this.replaceContacts(op.patientId, op.origin, op.contacts, op.sourceVersion)
            : this.mergeContacts(op.patientId, op.contacts);
        const survivor = this.survivorOf(op.patientId);
        if (outcome === 'applied' && survivor !== undefined) this.mergeContacts(survivor, op.contacts.map((c) => ({ ...c, patientId: survivor })));
        return outcome;
      }
      case 'merge-patient':
        return this.mergePatient(op.survivorId, op.mergedId, op.sourceVersion);
      case 'upsert-appointment':
        return this.upsertAppointment(op.appointment);
      default:
        return op satisfies never;
    }
  }

  private upsertPatient(patient: Patient, contacts: readonly Contact[] | undefined): ApplyOutcome {
    const existing = this.patients.get(patient.id);
    if (existing !== undefined && isOlder(patient.sourceVersion, existing.sourceVersion)) return 'stale';
    const mergedInto = patient.mergedInto ?? existing?.mergedInto;
    this.patients.set(patient.id, mergedInto === undefined ? patient : { ...patient, mergedInto });
    if (contacts !== undefined) this.replaceContacts(patient.id, contacts[0]?.origin ?? '', contacts, patient.sourceVersion);
    return 'applied';
  }

  private replaceContacts(patientId: string, origin: string, rows: readonly Contact[], version: string): ApplyOutcome {
    const existing = this.contacts.get(patientId) ?? [];
    const sameOrigin = existing.filter((c) => (c.origin ?? '') === origin);
    if (sameOrigin.some((c) => isOlder(version, c.sourceVersion))) return 'stale';
    this.contacts.set(patientId, [...existing.filter((c) => (c.origin ?? '') !== origin), ...rows]);
    return 'applied';
  }

  private mergeContacts(patientId: string, rows: readonly Contact[]): ApplyOutcome {
    const list = [...(this.contacts.get(patientId) ?? [])];
    let changed = false;
    for (const row of rows) {
      const i = list.findIndex((c) => sameRow(c, row));
      const current = i >= 0 ? list[i] : undefined;
      if (current !== undefined && isOlder(row.sourceVersion, current.sourceVersion)) continue;
      if (i >= 0) list[i] = row;
      else list.push(row);
      changed = true;
    }
    this.contacts.set(patientId, list);
    return changed ? 'applied' : 'stale';
  }

  private mergePatient(survivorId: string, mergedId: string, version: string): ApplyOutcome {
    if (survivorId === mergedId) return 'stale';
    const merged = this.patients.get(mergedId);
    if (merged === undefined) {
      // Remember the merge even before we know the record, so its contacts arriving later reach the survivor.
      const tombstone: Patient = { id: mergedId, name: { given: '', family: '' }, deceased: false, active: false, mergedInto: survivorId, sourceVersion: version };
      this.patients.set(mergedId, tombstone);
    } else {
      this.patients.set(mergedId, { ...merged, mergedInto: survivorId });
      if (!this.patients.has(survivorId)) {
        const { mergedInto: _drop, ...rest } = merged;
        this.patients.set(survivorId, { ...rest, id: survivorId, sourceVersion: version || merged.sourceVersion });
      }
    }
    const moving = this.contacts.get(mergedId) ?? [];
    if (moving.length > 0) this.mergeContacts(survivorId, moving.map((c) => ({ ...c, patientId: survivorId })));
    return 'applied';
  }

  /** The patient a merged record now lives on (following chains of merges), or undefined. */
  private survivorOf(patientId: string): string | undefined {
    let id = this.patients.get(patientId)?.mergedInto;
    for (let hops = 0; id !== undefined && hops < 16; hops++) {
      const next = this.patients.get(id)?.mergedInto;
      if (next === undefined) return id;
      id = next;
    }
    return id;
  }

  private upsertAppointment(appointment: Appointment): ApplyOutcome {
    const existing = this.appointments.get(appointment.id);
    if (existing !== undefined && isOlder(appointment.sourceVersion, existing.sourceVersion)) return 'stale';
    this.appointments.set(appointment.id, appointment);
    return 'applied';
  }
}

/** True when `candidate` is known to be older than `stored` (unknown versions never count as older). */
export function isOlder(candidate: string, stored: string): boolean {
  return candidate !== '' && stored !== '' && compareVersions(candidate, stored) < 0;
}

/**
 * Whether two contact rows are the same row of the feed (so one updates the other): same rowKey when either has
 * one, else the same contactId when either has one, else the same name-key.
 */
export function sameRow(a: Contact, b: Contact): boolean {
  if (a.rowKey !== undefined || b.rowKey !== undefined) return a.rowKey === b.rowKey;
  if (a.contactId !== undefined || b.contactId !== undefined) return a.contactId === b.contactId;
  return nameKey(a.name) === nameKey(b.name);
}
