import { parseHl7, splitHl7 } from '../../src/core/hl7/message';
import type { MappedInput } from '../../src/core/mapping/mapped-input';
import type { Mapping } from '../../src/core/mapping/types';
import type { Contact, SnapshotOp } from '../../src/core/model';
import { BridgeError } from '../../src/errors';
import { bundledMappingText, mappingFromText, testFixture } from '../../test/helpers/mappings';
import { hl7ToSnapshot } from './to-snapshot';

const DEFAULT_YAML = bundledMappingText('hl7v2');
const mappingFrom = (yaml: string): Mapping => mappingFromText(yaml, 'hl7v2-default.yaml');
const mapping = mappingFrom(DEFAULT_YAML);

function fixture(name: string): string[] {
  const raws = splitHl7(testFixture('hl7', name));
  for (const r of raws) expect(r.problem).toBeUndefined();
  return raws.map((r) => r.text);
}

function map(text: string, m: Mapping = mapping): MappedInput {
  return hl7ToSnapshot(parseHl7(text), m);
}

function rejection(fn: () => unknown): BridgeError {
  try {
    fn();
  } catch (e) {
    if (e instanceof BridgeError) return e;
    throw e;
  }
  throw new Error('expected a BridgeError');
}

function contactsOf(ops: readonly SnapshotOp[]): readonly Contact[] {
  const op = ops.find((o) => o.kind === 'upsert-contacts');
  return op?.kind === 'upsert-contacts' ? op.contacts : [];
}

const MSH = 'MSH|^~\\&|EHR|FAC|||20240301101500||ADT^A04|C-9|P|2.5.1';
const PID = 'PID|1||MRN7^^^FAC^MR||LEE^KAI||20160101';

describe('hl7ToSnapshot with the default mapping', () => {
  test('two parents with ZNK: joint mother, exclusive staff-created father', () => {
    const [text] = fixture('adt-a04-two-parents-znk.hl7');
    const out = map(text!);
    expect(out.controlId).toBe('NP-0001');
    expect(out.event).toBe('ADT^A04');
    expect(out.warnings).toEqual([]);
    expect(out.ops.map((o) => o.kind)).toEqual(['upsert-patient', 'upsert-contacts']);
    const [patientOp, contactsOp] = out.ops;
    expect(patientOp).toEqual({
      kind: 'upsert-patient',
      patient: {
        id: 'MRN1001',
        mrn: 'MRN1001',
        name: { given: 'MAYA', family: 'RIVERA' },
        birthDate: '2015-06-12',
        deceased: false,
        active: true,
        sourceVersion: '2024-03-01T15:15:00Z',
      },
    });
    expect(contactsOp).toMatchObject({ kind: 'upsert-contacts', mode: 'replace', origin: 'NK1', patientId: 'MRN1001', sourceVersion: '2024-03-01T15:15:00Z' });
    expect(contactsOf(out.ops)).toEqual([
      {
        patientId: 'MRN1001',
        contactId: 'G-2001',
        name: { given: 'ANA', family: 'RIVERA' },
        relationship: 'mother',
        relationshipCode: 'MTH',
        authority: 'joint',
        email: 'ana.rivera@example.org',
        cellPhone: '+12025550111',
        birthDate: '1985-03-04',
        flags: { noAccess: false, declined: false, staffCreated: false, limitedAccess: false },
        sourceVersion: '2024-03-01T15:15:00Z',
        origin: 'NK1',
      },
      {
        patientId: 'MRN1001',
        contactId: 'G-2002',
        name: { given: 'LUIS', family: 'RIVERA' },
        relationship: 'father',
        relationshipCode: 'FTH',
        authority: 'exclusive',
        email: 'luis.rivera@example.org',
        cellPhone: '+12025550112',
        birthDate: '1983-07-21',
        flags: { noAccess: false, declined: false, staffCreated: true, limitedAccess: false },
        sourceVersion: '2024-03-01T15:15:00Z',
        origin: 'NK1',
      },
    ]);
  });

  test('siblings: two messages in one file (BOM, CRLF) carry the same parents, same contact ids', () => {
    const texts = fixture('adt-a08-siblings-two-messages.hl7');
    expect(texts).toHaveLength(2);
    const [a, b] = texts.map((t) => map(t));
    const patientIds = [a!, b!].map((o) => (o.ops[0]?.kind === 'upsert-patient' ? o.ops[0].patient.id : undefined));
    expect(patientIds).toEqual(['MRN2001', 'MRN2002']);
    for (const out of [a!, b!]) {
      expect(contactsOf(out.ops).map((c) => [c.contactId, c.relationship, c.authority, c.email])).toEqual([
        ['G-3001', 'mother', 'joint', 'grace.okafor@example.org'],
        ['G-3002', 'father', 'joint', 'daniel.okafor@example.org'],
      ]);
    }
    expect(contactsOf(b!.ops).every((c) => c.patientId === 'MRN2002')).toBe(true);
  });

  test('A40 with two PID/MRG pairs: one merge per pair, nothing else', () => {
    const [text] = fixture('adt-a40-two-pairs.hl7');
    expect(map(text!).ops).toEqual([
      { kind: 'merge-patient', survivorId: 'MRN3001', mergedId: 'MRN3901', sourceVersion: '2024-03-03T12:00:00' },
      { kind: 'merge-patient', survivorId: 'MRN3002', mergedId: 'MRN3902', sourceVersion: '2024-03-03T12:00:00' },
    ]);
  });

  test('A40 pair without a merged id is rejected, naming the pair', () => {
    const text = `${MSH.replace('ADT^A04', 'ADT^A40')}\r${PID}\rMRG|OLD1^^^FAC^MR\rPID|2||MRN8^^^FAC^MR\rMRG|X^^^FAC^PI`;
    const e = rejection(() => map(text));
    expect(e.code).toBe('ERR_MAPPING_MISSING_FIELD');
    expect(e.message).toBe('no merged id (pair #2): MRG-1[5=MR].1 is empty');
  });

  test('SIU S12 (booked) and S15 with an empty SCH-25 (the event says cancelled), from an FHS/BHS batch', () => {
    const [s12, s15] = fixture('siu-s12-s15-batch.hl7');
    const booked = map(s12!);
    expect(booked.ops.map((o) => o.kind)).toEqual(['upsert-patient', 'upsert-appointment']);
    expect(booked.ops[1]).toEqual({
      kind: 'upsert-appointment',
      appointment: {
        id: 'APT-9001',
        patientId: 'MRN1001',
        start: '2024-03-15T14:30:00Z',
        location: 'NORTH-2',
        provider: 'DR-17',
        status: 'booked',
        sourceVersion: '2024-03-04T13:00:00Z',
      },
    });
    const cancelled = map(s15!);
    expect(cancelled.event).toBe('SIU^S15');
    expect(cancelled.ops[1]).toEqual({
      kind: 'upsert-appointment',
      appointment: { id: 'APT-9001', patientId: 'MRN1001', start: '2024-03-15T14:30:00Z', status: 'cancelled', sourceVersion: '2024-03-05T13:00:00Z' },
    });
  });

  test('an appointment without a usable patient id is rejected', () => {
    const text = 'MSH|^~\\&|EHR|FAC|||20240301||SIU^S12|C1|P|2.5\rSCH||APT-1\rPID|1||X^^^FAC^PI';
    const e = rejection(() => map(text));
    expect(e.code).toBe('ERR_MAPPING_MISSING_FIELD');
    expect(e.message).toBe('no patient for the appointment: PID-3[5=MR].1 is empty');
  });

  test('A03 is accepted and changes nothing', () => {
    const [text] = fixture('adt-a03-discharge.hl7');
    expect(map(text!)).toEqual({ controlId: 'NP-0007', event: 'ADT^A03', ops: [], warnings: [] });
  });

  test('an unknown event is rejected (unknownEvents: reject)', () => {
    const [text] = fixture('adt-a24-unknown-event.hl7');
    const e = rejection(() => map(text!));
    expect(e.code).toBe('ERR_MAPPING_UNSUPPORTED_EVENT');
    expect(e.message).toBe('message type ADT^A24 is not handled by mapping hl7v2-default');
  });

  test('unknownEvents: ignore accepts it with no ops and a warning', () => {
    const [text] = fixture('adt-a24-unknown-event.hl7');
    const out = map(text!, { ...mapping, unknownEvents: 'ignore' });
    expect(out.ops).toEqual([]);
    expect(out.warnings).toEqual(['message type ADT^A24 is not handled by mapping hl7v2-default; ignored']);
  });

  test('a missing patient id (no PID-3 of type MR) is rejected', () => {
    const [text] = fixture('adt-a04-no-mr-id.hl7');
    const e = rejection(() => map(text!));
    expect(e.code).toBe('ERR_MAPPING_MISSING_FIELD');
    expect(e.message).toBe('no patient id: PID-3[5=MR].1 is empty');
  });

  test("the analyst's fallback for feeds without CX-5 (PID-3.1) accepts it", () => {
    const [text] = fixture('adt-a04-no-mr-id.hl7');
    const withFallback = mappingFrom(DEFAULT_YAML.replace("  id: 'PID-3[5=MR].1'\n", "  id: ['PID-3[5=MR].1', 'PID-3.1']\n"));
    const out = map(text!, withFallback);
    expect(out.ops[0]).toMatchObject({ kind: 'upsert-patient', patient: { id: 'X-5521' } });
  });

  test('NK1 before PID, set ids 2,1, ZNK after PID, "" nulls, an all-null NK1, escapes, death', () => {
    const [text] = fixture('adt-a28-nk1-before-pid-nulls.hl7');
    const out = map(text!);
    expect(out.ops[0]).toMatchObject({ kind: 'upsert-patient', patient: { id: 'MRN4001', deceased: true, name: { given: 'CIARA', family: "O'BRIEN" } } });
    expect(out.ops[0]).not.toHaveProperty('patient.email');
    const contacts = contactsOf(out.ops);
    expect(contacts.map((c) => [c.name.given, c.relationship, c.relationshipCode, c.authority, c.flags.noAccess, c.flags.declined])).toEqual([
      ['SEAN', 'father', 'Father', 'none', true, false],
      ['AOIFE&ROSE', 'mother', 'Mother', 'joint', false, true],
    ]);
    expect(contacts[1]).not.toHaveProperty('birthDate');
    expect(contacts[1]).not.toHaveProperty('cellPhone');
    expect(out.warnings).toEqual(['NK1 #3 is empty; ignored']);
  });

  test('a message without NK1 leaves contacts untouched (no upsert-contacts)', () => {
    const out = map(`${MSH}\r${PID}`);
    expect(out.ops.map((o) => o.kind)).toEqual(['upsert-patient']);
    expect(out.ops[0]).not.toHaveProperty('contacts');
  });

  test('NK1 rows present but all empty: the message still carries contacts (an empty set replaces)', () => {
    const out = map(`${MSH}\r${PID}\rNK1||""^""|""`);
    expect(out.ops[1]).toMatchObject({ kind: 'upsert-contacts', mode: 'replace', contacts: [] });
    expect(out.warnings).toEqual(['NK1 #1 is empty; ignored']);
  });

  test('policy contactsUpdate: merge emits merge-mode contacts', () => {
    const out = map(`${MSH}\r${PID}\rNK1|1|LEE^MIN|MTH`, { ...mapping, policy: { ...mapping.policy, contactsUpdate: 'merge' } });
    expect(out.ops[1]).toMatchObject({ kind: 'upsert-contacts', mode: 'merge', contacts: [{ name: { given: 'MIN', family: 'LEE' } }] });
  });

  test('ZNK joins by adjacency when NK1-1 is empty; a row without its ZNK never borrows another row\'s', () => {
    const text = [MSH, PID, 'NK1||LEE^MIN|MTH', 'ZNK||E|N|N|N', 'NK1|2|LEE^JO|FTH', 'NK1|3|LEE^AL|GRD', 'ZNK|3|J|N|N|N'].join('\r');
    expect(contactsOf(map(text).ops).map((c) => [c.name.given, c.authority])).toEqual([
      ['MIN', 'exclusive'],
      ['JO', 'unknown'],
      ['AL', 'joint'],
    ]);
  });

  test('ZNK joins by set id even out of order', () => {
    const text = [MSH, PID, 'NK1|1|LEE^MIN|MTH', 'NK1|2|LEE^JO|FTH', 'ZNK|2|E|N|N|N', 'ZNK|1|J|Y|N|N'].join('\r');
    expect(contactsOf(map(text).ops).map((c) => [c.name.given, c.authority, c.flags.noAccess])).toEqual([
      ['MIN', 'joint', true],
      ['JO', 'exclusive', false],
    ]);
  });

  test('non-default delimiters (field separator ^) map like any other message', () => {
    const text = 'MSH^~|\\&^EHR^FAC^^^20240301^^ADT~A04^C-1^P^2.4\rPID^1^^MRN5~~~FAC~MR^^KIM~ARA\rNK1^1^KIM~SOO^MTH^^~NET~Internet~soo.kim@example.org';
    const out = map(text);
    expect(out.event).toBe('ADT^A04');
    expect(out.ops[0]).toMatchObject({ patient: { id: 'MRN5', name: { given: 'ARA', family: 'KIM' } } });
    expect(contactsOf(out.ops)).toMatchObject([{ name: { given: 'SOO' }, relationship: 'mother', email: 'soo.kim@example.org' }]);
  });

  test('warnings name fields and segment numbers, never values', () => {
    const out = map(`${MSH}\r${PID}||||||(999) 000-0000^^CP\rNK1|1|LEE^MIN|XYZ||(999) 000-0001^PRN^CP|||||||||||NOTADATE`);
    expect(out.warnings).toEqual([
      'patient.cellPhone is not a valid phone number; ignored',
      'NK1 #1 cellPhone is not a valid phone number; ignored',
      'NK1 #1 birthDate is not a date; ignored',
    ]);
    expect(contactsOf(out.ops)[0]?.relationship).toBe('other');
    expect(out.warnings.join(' ')).not.toMatch(/999|NOTADATE|XYZ|LEE|MIN/);
  });

  test('a bad path in a mapping built in code is a one-line ERR_MAPPING_INVALID_PATH', () => {
    const bad: Mapping = { ...mapping, patient: { ...mapping.patient, birthDate: { paths: ['PID-x'] } } };
    const e = rejection(() => map(`${MSH}\r${PID}`, bad));
    expect(e.code).toBe('ERR_MAPPING_INVALID_PATH');
    expect(e.message).toBe(`bad path "PID-x": expected a field number after 'PID-' at column 5`);
  });

  test('pure: the same message gives the same result twice', () => {
    const [text] = fixture('adt-a04-two-parents-znk.hl7');
    expect(map(text!)).toEqual(map(text!));
  });
});
