import fc from 'fast-check';
import type { Appointment, Contact, Patient, Snapshot, SnapshotOp } from '../../src/core/model';
import { NO_FLAGS } from '../../src/core/model';
import { SnapshotBuilder } from '../../src/core/snapshot';
import type { Store } from '../../src/store';
import { describeEachDatabase } from '../helpers/db';

jest.setTimeout(60_000);

const NOW = new Date('2026-02-01T00:00:00.000Z');

const patient = (id: string, version: string, extra: Partial<Patient> = {}): Patient => ({
  id, name: { given: 'Theo', family: 'Sample' }, deceased: false, active: true, sourceVersion: version, ...extra,
});
const contact = (patientId: string, given: string, version: string, extra: Partial<Contact> = {}): Contact => ({
  patientId, name: { given, family: 'Sample' }, relationship: 'mother', authority: 'joint', email: `${given.toLowerCase()}@example.org`,
  flags: NO_FLAGS, sourceVersion: version, origin: 'NK1', ...extra,
});
const replace = (patientId: string, contacts: Contact[], version: string): SnapshotOp =>
  ({ kind: 'upsert-contacts', patientId, contacts, mode: 'replace', origin: 'NK1', sourceVersion: version });
const merge = (patientId: string, contacts: Contact[], version: string, origin = 'RelatedPerson'): SnapshotOp =>
  ({ kind: 'upsert-contacts', patientId, contacts, mode: 'merge', origin, sourceVersion: version });
const upsert = (p: Patient, contacts?: Contact[]): SnapshotOp => ({ kind: 'upsert-patient', patient: p, ...(contacts === undefined ? {} : { contacts }) });
const a40 = (survivorId: string, mergedId: string, version: string): SnapshotOp => ({ kind: 'merge-patient', survivorId, mergedId, sourceVersion: version });

/** A snapshot as plain, comparable data (patients and appointments by id, contact lists without empty ones). */
function plain(s: Snapshot): { patients: Record<string, Patient>; contacts: Record<string, readonly Contact[]>; appointments: Record<string, Appointment> } {
  const sorted = <T>(m: ReadonlyMap<string, T>): Record<string, T> => Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : 1)));
  const contacts = new Map([...s.contacts].filter(([, rows]) => rows.length > 0));
  return JSON.parse(JSON.stringify({ patients: sorted(s.patients), contacts: sorted(contacts), appointments: sorted(s.appointments) })) as ReturnType<typeof plain>;
}

async function stored(store: Store, ids: string[]): Promise<ReturnType<typeof plain>> {
  return plain(await store.snapshots.loadSnapshot({ patientIds: ids }));
}

describeEachDatabase('snapshots', (db) => {
  test('a patient and its contacts round-trip; the result names the patients that changed', async () => {
    await db.withStore(async (store) => {
      const p1 = patient('P1', '2026-01-10T14:00:00Z', { mrn: 'MRN1', email: 'theo@example.org' });
      const rows = [contact('P1', 'Nora', '2026-01-10T14:00:00Z', { contactId: 'C1' }), contact('P1', 'Omar', '2026-01-10T14:00:00Z', { cellPhone: '+15555550100' })];
      const result = await store.snapshots.applySnapshotOps([upsert(p1, rows)], 7, { now: NOW });
      expect(result.applied).toEqual([true]);
      expect(result.patientIds).toEqual(['P1']);
      expect(plain(result.before)).toEqual({ patients: {}, contacts: {}, appointments: {} });
      expect(await stored(store, ['P1'])).toEqual({ patients: { P1: p1 }, contacts: { P1: rows }, appointments: {} });

      const row = await store.knex('patients').where({ id: 'P1' }).first();
      expect(row).toMatchObject({ source_version: '2026-01-10T14:00:00Z', merged_into: null, updated_at: NOW.toISOString() });
      expect(Number(row.last_inbox_id)).toBe(7);
      const keys = await store.knex('contacts').select('row_no', 'contact_id', 'email_key', 'name_key', 'origin').where({ patient_id: 'P1' }).orderBy('row_no');
      expect(keys).toEqual([
        { row_no: 0, contact_id: 'C1', email_key: 'nora@example.org', name_key: 'nora sample', origin: 'NK1' },
        { row_no: 1, contact_id: null, email_key: 'omar@example.org', name_key: 'omar sample', origin: 'NK1' },
      ]);
    });
  });

  test('an older message never overwrites newer data, and writes nothing', async () => {
    await db.withStore(async (store) => {
      await store.snapshots.applySnapshotOps([upsert(patient('P1', '2026-01-10T14:00:00.500Z', { active: false }), [contact('P1', 'Nora', '2026-01-10T14:00:00.500Z')])], 1, { now: NOW });
      const late = await store.snapshots.applySnapshotOps(
        [upsert(patient('P1', '2026-01-10T14:00:00Z'), [contact('P1', 'Omar', '2026-01-10T14:00:00Z')]), replace('P1', [], '2026-01-09T00:00:00Z')],
        2,
        { now: new Date('2026-03-01T00:00:00Z') },
      );
      expect(late.applied).toEqual([false, false]);
      expect(late.patientIds).toEqual([]);
      const s = await stored(store, ['P1']);
      expect(s.patients.P1?.active).toBe(false);
      expect(s.contacts.P1?.map((c) => c.name.given)).toEqual(['Nora']);
      const row = await store.knex('patients').where({ id: 'P1' }).first();
      expect(Number(row.last_inbox_id)).toBe(1);
      expect(row.updated_at).toBe(NOW.toISOString());

      // Versions compare as instants: 09:00:00-05:00 (14:00:00Z) is older, 09:00:01-05:00 newer than 14:00:00.500Z.
      expect((await store.snapshots.applySnapshotOps([upsert(patient('P1', '2026-01-10T09:00:00-05:00'))], 3, { now: NOW })).applied).toEqual([false]);
      const newer = await store.snapshots.applySnapshotOps([upsert(patient('P1', '2026-01-10T09:00:01-05:00'))], 3, { now: NOW });
      expect(newer.applied).toEqual([true]);
      expect((await stored(store, ['P1'])).patients.P1?.active).toBe(true);
    });
  });

  test('replace swaps the rows of its origin only; merge updates by rowKey, else contactId, else name', async () => {
    await db.withStore(async (store) => {
      const apply = (ops: SnapshotOp[]) => store.snapshots.applySnapshotOps(ops, undefined, { now: NOW });
      await apply([replace('P1', [contact('P1', 'Nora', '2026-01-02'), contact('P1', 'Omar', '2026-01-02')], '2026-01-02')]);
      await apply([merge('P1', [contact('P1', 'Gran', '2026-01-01', { origin: 'RelatedPerson', rowKey: 'RelatedPerson/9' })], '2026-01-01')]);
      await apply([replace('P1', [contact('P1', 'Nora', '2026-01-03')], '2026-01-03')]);
      expect((await stored(store, ['P1'])).contacts.P1?.map((c) => c.name.given)).toEqual(['Gran', 'Nora']);

      await apply([merge('P1', [contact('P1', 'Gran', '2026-01-04', { origin: 'RelatedPerson', rowKey: 'RelatedPerson/9', authority: 'exclusive' })], '2026-01-04')]);
      await apply([merge('P1', [contact('P1', 'Ivy', '2026-01-04', { origin: 'RelatedPerson', contactId: 'C7' })], '2026-01-04')]);
      await apply([merge('P1', [contact('P1', 'Ivy', '2026-01-05', { origin: 'RelatedPerson', contactId: 'C7', email: 'ivy.new@example.org' })], '2026-01-05')]);
      const stale = await apply([merge('P1', [contact('P1', 'Ivy', '2026-01-01', { origin: 'RelatedPerson', contactId: 'C7', authority: 'none' })], '2026-01-01')]);
      expect(stale.applied).toEqual([false]);
      const rows = (await stored(store, ['P1'])).contacts.P1 ?? [];
      expect(rows.map((c) => [c.name.given, c.email, c.authority])).toEqual([
        ['Gran', 'gran@example.org', 'exclusive'],
        ['Nora', 'nora@example.org', 'joint'],
        ['Ivy', 'ivy.new@example.org', 'joint'],
      ]);
      const ivy = await store.knex('contacts').where({ patient_id: 'P1', contact_id: 'C7' }).first();
      expect(ivy.email_key).toBe('ivy.new@example.org');
    });
  });

  test('A40: the survivor gets the contacts, the merged record keeps them, later updates for it reach the survivor', async () => {
    await db.withStore(async (store) => {
      const apply = (ops: SnapshotOp[], inboxId?: number) => store.snapshots.applySnapshotOps(ops, inboxId, { now: NOW });
      await apply([upsert(patient('P9', '1'), [contact('P9', 'Nora', '1', { contactId: 'C1' })])]);
      await apply([upsert(patient('P5', '1'))]);
      const merged = await apply([a40('P1', 'P9', '2')]);
      expect(merged.applied).toEqual([true]);
      expect(merged.patientIds).toEqual(['P1', 'P9']);
      let s = await stored(store, ['P1', 'P9']);
      expect(s.patients.P9?.mergedInto).toBe('P1');
      expect(s.patients.P1).toEqual(patient('P1', '2'));
      expect(s.contacts.P1?.map((c) => [c.patientId, c.name.given])).toEqual([['P1', 'Nora']]);
      expect(s.contacts.P9).toHaveLength(1);
      expect((await store.knex('patients').where({ id: 'P9' }).first()).merged_into).toBe('P1');

      // A later message for the merged id, in its own transaction: the store follows the stored merge.
      const later = await apply([replace('P9', [contact('P9', 'Nora', '3', { contactId: 'C1', email: 'nora.new@example.org' })], '3')]);
      expect(later.patientIds).toEqual(['P1', 'P9']);
      s = await stored(store, ['P1']);
      expect(s.contacts.P1?.[0]?.email).toBe('nora.new@example.org');
      // A late, older demographic update for the merged id keeps it merged.
      await apply([upsert(patient('P9', '4'))]);
      expect((await stored(store, ['P9'])).patients.P9?.mergedInto).toBe('P1');

      // Chains: P1 merged into P0 later; contacts for P9 then reach P0.
      await apply([a40('P0', 'P1', '5')]);
      await apply([merge('P9', [contact('P9', 'Gran', '6', { origin: 'RelatedPerson', rowKey: 'RelatedPerson/3' })], '6')]);
      s = await stored(store, ['P0']);
      expect(s.contacts.P0?.map((c) => c.name.given).sort()).toEqual(['Gran', 'Nora']);
      // Untouched patients are not rewritten.
      expect((await store.knex('patients').where({ id: 'P5' }).first()).last_inbox_id).toBeNull();
    });
  });

  test('a merge of a record not seen yet is remembered for its contacts arriving later', async () => {
    await db.withStore(async (store) => {
      const apply = (ops: SnapshotOp[]) => store.snapshots.applySnapshotOps(ops, undefined, { now: NOW });
      await apply([upsert(patient('P1', '1'))]);
      await apply([a40('P1', 'P9', '2')]);
      await apply([merge('P9', [contact('P9', 'Nora', '3', { rowKey: 'RelatedPerson/5' })], '3')]);
      expect((await stored(store, ['P1'])).contacts.P1?.map((c) => c.patientId)).toEqual(['P1']);
    });
  });

  test('appointments upsert by id; an older version loses; the patient is reported', async () => {
    await db.withStore(async (store) => {
      const appt = (status: 'booked' | 'cancelled', v: string): SnapshotOp => ({ kind: 'upsert-appointment', appointment: { id: 'A1', patientId: 'P1', status, start: '2026-02-01T09:00:00Z', sourceVersion: v } });
      expect(await store.snapshots.applySnapshotOps([appt('cancelled', '2')], 1, { now: NOW })).toMatchObject({ applied: [true], patientIds: ['P1'] });
      expect(await store.snapshots.applySnapshotOps([appt('booked', '1')], 2, { now: NOW })).toMatchObject({ applied: [false], patientIds: [] });
      expect((await stored(store, ['P1'])).appointments.A1?.status).toBe('cancelled');
    });
  });

  test('applying ops one transaction at a time gives what SnapshotBuilder gives in memory (property)', async () => {
    await db.withStore(async (store) => {
      const ids = ['P1', 'P2', 'P3'];
      const versionArb = fc.constantFrom('2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', '2026-01-03T00:00:00Z', '');
      const contactArb = (pid: string) =>
        fc.record({ given: fc.constantFrom('Nora', 'Omar', 'Ivy'), cid: fc.constantFrom(undefined, 'C1', 'C2'), v: versionArb, authority: fc.constantFrom('joint' as const, 'none' as const) })
          .map(({ given, cid, v, authority }) => contact(pid, given, v, { authority, ...(cid === undefined ? {} : { contactId: cid }) }));
      const opArb: fc.Arbitrary<SnapshotOp> = fc.constantFrom(...ids).chain((pid) =>
        fc.oneof(
          fc.record({ v: versionArb, active: fc.boolean(), rows: fc.option(fc.array(contactArb(pid), { maxLength: 2 }), { nil: undefined }) })
            .map(({ v, active, rows }) => upsert(patient(pid, v, { active }), rows)),
          fc.record({ v: versionArb, rows: fc.array(contactArb(pid), { maxLength: 2 }), mode: fc.constantFrom('replace' as const, 'merge' as const) })
            .map(({ v, rows, mode }) => (mode === 'replace' ? replace(pid, rows, v) : merge(pid, rows, v, 'NK1'))),
          fc.record({ other: fc.constantFrom(...ids), v: versionArb }).map(({ other, v }) => a40(other, pid, v)),
          fc.record({ v: versionArb, status: fc.constantFrom('booked' as const, 'cancelled' as const) })
            .map(({ v, status }): SnapshotOp => ({ kind: 'upsert-appointment', appointment: { id: `A-${pid}`, patientId: pid, status, sourceVersion: v } })),
        ),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 8 }), async (ops) => {
          for (const table of ['patients', 'contacts', 'appointments']) await store.knex(table).delete();
          const memory = new SnapshotBuilder();
          for (const op of ops) {
            const expected = memory.apply(op) === 'applied';
            const { applied } = await store.snapshots.applySnapshotOps([op], undefined, { now: NOW });
            expect(applied).toEqual([expected]);
          }
          expect(await stored(store, ids)).toEqual(plain(memory));
        }),
        { numRuns: 30, seed: 20260110 },
      );
    });
  });
});

describeEachDatabase('neighbourhood', (db) => {
  // P1: Nora (C1) and Omar (C2). P2: Nora (C1). P3: "N. Other" sharing Nora's email, no contact id, and Zed (C9).
  // P4: Zed (C9). P5: unrelated. P6 was merged into P4.
  async function seed(store: Store): Promise<void> {
    const v = '2026-01-01T00:00:00Z';
    const ops: SnapshotOp[] = [
      upsert(patient('P1', v), [contact('P1', 'Nora', v, { contactId: 'C1' }), contact('P1', 'Omar', v, { contactId: 'C2' })]),
      upsert(patient('P2', v), [contact('P2', 'Nora', v, { contactId: 'C1' })]),
      upsert(patient('P3', v), [contact('P3', 'Nadia', v, { email: 'NORA@example.org ' }), contact('P3', 'Zed', v, { contactId: 'C9' })]),
      upsert(patient('P4', v), [contact('P4', 'Zed', v, { contactId: 'C9' })]),
      upsert(patient('P5', v), [contact('P5', 'Uma', v, { contactId: 'C5' })]),
      upsert(patient('P6', v)),
      a40('P4', 'P6', '2026-01-02T00:00:00Z'),
      { kind: 'upsert-appointment', appointment: { id: 'A2', patientId: 'P2', status: 'booked', sourceVersion: v } },
    ];
    await store.snapshots.applySnapshotOps(ops, undefined, { now: NOW });
  }

  test('expands through shared contact ids, email-keys, patients and merges, and stops there', async () => {
    await db.withStore(async (store) => {
      await seed(store);
      // Rounds: C1 → P1, P2, nora@ → C2, P3 → C9 → P4 → P6 (merged into P4), whose round finds nothing new.
      expect((await store.snapshots.loadNeighbourhood({ contactIds: ['C1'] })).complete).toBe(false);
      const n = await store.snapshots.loadNeighbourhood({ contactIds: ['C1'] }, 6);
      expect(n.complete).toBe(true);
      expect([...n.patients.keys()].sort()).toEqual(['P1', 'P2', 'P3', 'P4', 'P6']);
      expect(n.contacts.get('P3')?.map((c) => c.name.given)).toEqual(['Nadia', 'Zed']);
      expect([...n.appointments.keys()]).toEqual(['A2']);
      expect(n.contacts.has('P5')).toBe(false);

      const byEmail = await store.snapshots.loadNeighbourhood({ emailKeys: ['uma@example.org'] });
      expect([...byEmail.patients.keys()]).toEqual(['P5']);
      expect(byEmail.complete).toBe(true);
    });
  });

  test('maxRounds bounds the expansion and says so', async () => {
    await db.withStore(async (store) => {
      await seed(store);
      const one = await store.snapshots.loadNeighbourhood({ contactIds: ['C1'] }, 1);
      expect(one.complete).toBe(false);
      expect([...one.patients.keys()].sort()).toEqual(['P1', 'P2']);
      // Every row of the patients found is loaded, even when the closure was cut short.
      expect(one.contacts.get('P1')?.map((c) => c.name.given)).toEqual(['Nora', 'Omar']);
      const empty = await store.snapshots.loadNeighbourhood({});
      expect(empty).toMatchObject({ complete: true });
      expect(empty.patients.size).toBe(0);
    });
  });

  test('contactsByKeys finds rows by contact id, email-key, name-key or patient, each row once', async () => {
    await db.withStore(async (store) => {
      await seed(store);
      const rows = await store.snapshots.contactsByKeys({ contactIds: ['C9'], emailKeys: ['nora@example.org'], nameKeys: ['uma sample'], patientIds: ['P4'] });
      expect(rows.map((c) => `${c.patientId}/${c.name.given}`).sort()).toEqual(['P1/Nora', 'P2/Nora', 'P3/Nadia', 'P3/Zed', 'P4/Zed', 'P5/Uma']);
    });
  });
});
