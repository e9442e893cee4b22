import type { Contact, Patient } from './model';
import { NO_FLAGS } from './model';
import { isOlder, SnapshotBuilder } from './snapshot';

const patient = (id: string, version: string, extra: Partial<Patient> = {}): Patient => ({
  id,
  name: { given: 'Theo', family: 'Sample' },
  deceased: false,
  active: true,
  sourceVersion: version,
  ...extra,
});
const contact = (patientId: string, given: string, version: string, extra: Partial<Contact> = {}): Contact => ({
  patientId,
  name: { given, family: 'Sample' },
  relationship: 'mother',
  authority: 'joint',
  email: `${given.toLowerCase()}@example.org`,
  flags: NO_FLAGS,
  sourceVersion: version,
  origin: 'NK1',
  ...extra,
});
const replace = (patientId: string, contacts: Contact[], version: string) =>
  ({ kind: 'upsert-contacts', patientId, contacts, mode: 'replace', origin: 'NK1', sourceVersion: version }) as const;

describe('SnapshotBuilder', () => {
  test('a newer version is never overwritten by an older message arriving late', () => {
    const s = new SnapshotBuilder();
    expect(s.apply({ kind: 'upsert-patient', patient: patient('P1', '2026-01-10T14:00:00.500Z', { active: false }) })).toBe('applied');
    expect(s.apply({ kind: 'upsert-patient', patient: patient('P1', '2026-01-10T14:00:00Z') })).toBe('stale');
    expect(s.patients.get('P1')?.active).toBe(false);
    expect(s.apply({ kind: 'upsert-patient', patient: patient('P1', '2026-01-10T14:00:01Z') })).toBe('applied');
    expect(s.patients.get('P1')?.active).toBe(true);
  });

  test('versions compare as instants, and an unknown version always applies', () => {
    expect(isOlder('2026-01-10T14:00:00Z', '2026-01-10T14:00:00.500Z')).toBe(true);
    expect(isOlder('2026-01-10T09:00:00-05:00', '2026-01-10T13:59:00Z')).toBe(false);
    expect(isOlder('', '2026-01-10T14:00:00Z')).toBe(false);
  });

  test('replace swaps the rows of the same origin only; an older contact list loses', () => {
    const s = new SnapshotBuilder();
    s.apply(replace('P1', [contact('P1', 'Nora', '2026-01-02'), contact('P1', 'Omar', '2026-01-02')], '2026-01-02'));
    s.apply({ kind: 'upsert-contacts', patientId: 'P1', contacts: [contact('P1', 'Gran', '2026-01-01', { origin: 'RelatedPerson', rowKey: 'RelatedPerson/9' })], mode: 'merge', origin: 'RelatedPerson', sourceVersion: '2026-01-01' });
    s.apply(replace('P1', [contact('P1', 'Nora', '2026-01-03')], '2026-01-03'));
    expect(s.contacts.get('P1')?.map((c) => c.name.given)).toEqual(['Gran', 'Nora']);
    expect(s.apply(replace('P1', [], '2026-01-01'))).toBe('stale');
    expect(s.contacts.get('P1')).toHaveLength(2);
  });

  test('merge adds or updates by rowKey, else contactId, else name', () => {
    const s = new SnapshotBuilder();
    const merge = (c: Contact) => ({ kind: 'upsert-contacts', patientId: 'P1', contacts: [c], mode: 'merge', origin: 'RelatedPerson', sourceVersion: c.sourceVersion }) as const;
    s.apply(merge(contact('P1', 'Nora', '1', { rowKey: 'RelatedPerson/1' })));
    s.apply(merge(contact('P1', 'Nora', '2', { rowKey: 'RelatedPerson/1', email: 'new@example.org' })));
    s.apply(merge(contact('P1', 'Omar', '1', { contactId: 'C7' })));
    s.apply(merge(contact('P1', 'Omar', '2', { contactId: 'C7', authority: 'exclusive' })));
    s.apply(merge(contact('P1', 'Ivy', '1')));
    s.apply(merge(contact('P1', 'Ivy', '0', { authority: 'none' })));
    const rows = s.contacts.get('P1') ?? [];
    expect(rows.map((c) => [c.name.given, c.email, c.authority])).toEqual([
      ['Nora', 'new@example.org', 'joint'],
      ['Omar', 'omar@example.org', 'exclusive'],
      ['Ivy', 'ivy@example.org', 'joint'],
    ]);
  });

  test('merge-patient copies contacts to the survivor and keeps them on the merged record (R02 needs them)', () => {
    const s = new SnapshotBuilder();
    s.apply({ kind: 'upsert-patient', patient: patient('P9', '1') });
    s.apply(replace('P9', [contact('P9', 'Nora', '1')], '1'));
    s.apply({ kind: 'merge-patient', survivorId: 'P1', mergedId: 'P9', sourceVersion: '2' });
    expect(s.patients.get('P9')?.mergedInto).toBe('P1');
    expect(s.patients.get('P1')?.name).toEqual({ given: 'Theo', family: 'Sample' });
    expect(s.contacts.get('P1')?.map((c) => [c.patientId, c.name.given])).toEqual([['P1', 'Nora']]);
    expect(s.contacts.get('P9')).toHaveLength(1);
    // A contact update for the merged id, arriving later, reaches the survivor as well.
    s.apply(replace('P9', [contact('P9', 'Nora', '3', { email: 'nora.new@example.org' })], '3'));
    expect(s.contacts.get('P1')?.[0]?.email).toBe('nora.new@example.org');
    // A late, older demographic update for the merged id keeps it merged.
    s.apply({ kind: 'upsert-patient', patient: patient('P9', '4') });
    expect(s.patients.get('P9')?.mergedInto).toBe('P1');
  });

  test('a merge of a record not seen yet is remembered for its contacts arriving later', () => {
    const s = new SnapshotBuilder();
    s.apply({ kind: 'upsert-patient', patient: patient('P1', '1') });
    s.apply({ kind: 'merge-patient', survivorId: 'P1', mergedId: 'P9', sourceVersion: '2' });
    s.apply({ kind: 'upsert-contacts', patientId: 'P9', contacts: [contact('P9', 'Nora', '3', { rowKey: 'RelatedPerson/5' })], mode: 'merge', origin: 'RelatedPerson', sourceVersion: '3' });
    expect(s.contacts.get('P1')?.map((c) => c.patientId)).toEqual(['P1']);
  });

  test('appointments upsert by id with the same version rule', () => {
    const s = new SnapshotBuilder();
    const appt = (status: 'booked' | 'cancelled', v: string) => ({ kind: 'upsert-appointment', appointment: { id: 'A1', patientId: 'P1', status, sourceVersion: v } }) as const;
    s.apply(appt('cancelled', '2'));
    expect(s.apply(appt('booked', '1'))).toBe('stale');
    expect(s.appointments.get('A1')?.status).toBe('cancelled');
  });
});
