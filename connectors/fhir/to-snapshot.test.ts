import type { MappedInput } from '../../src/core/mapping/mapped-input';
import type { Mapping } from '../../src/core/mapping/types';
import type { Contact, SnapshotOp } from '../../src/core/model';
import { BridgeError } from '../../src/errors';
import { bundledMapping, testFixture } from '../../test/helpers/mappings';
import { fhirToSnapshot, isRejected, type FhirTranslation, type RejectedResource } from './to-snapshot';

const mapping = bundledMapping('fhir');

function fixture(name: string): unknown {
  return JSON.parse(testFixture('fhir', name));
}

function mapped(t: FhirTranslation | undefined): MappedInput {
  if (t === undefined || isRejected(t)) throw new Error(`expected a mapped resource, got ${JSON.stringify(t)}`);
  return t;
}

function contactsOf(ops: readonly SnapshotOp[]): Contact[] {
  return ops.flatMap((op) => (op.kind === 'upsert-contacts' ? [...op.contacts] : []));
}

const NO_FLAGS = { noAccess: false, declined: false, staffCreated: false, limitedAccess: false };

describe('fhirToSnapshot: RelatedPerson', () => {
  it('maps a parent with joint authority, email and mobile', () => {
    const [only, ...rest] = fhirToSnapshot(fixture('related-person-parent-joint.json'), mapping);
    expect(rest).toEqual([]);
    const input = mapped(only);
    expect(input).toMatchObject({ controlId: 'RelatedPerson/rp-quintero-1', event: 'RelatedPerson', warnings: [] });
    expect(input.ops).toEqual([
      {
        kind: 'upsert-contacts',
        mode: 'merge',
        origin: 'RelatedPerson',
        patientId: 'pt-ashdown-ellis',
        sourceVersion: '2024-03-01T19:05:00Z',
        contacts: [
          {
            patientId: 'pt-ashdown-ellis',
            contactId: 'PERSON-48213',
            name: { given: 'Maribel', family: 'Quintero' },
            // v2-0131 N (next of kin) comes first, but the family relation wins.
            relationship: 'mother',
            relationshipCode: 'MTH',
            authority: 'joint',
            email: 'Maribel.Quintero@example.org',
            cellPhone: '+12025550147',
            birthDate: '1986-07-19',
            flags: { ...NO_FLAGS, staffCreated: true },
            sourceVersion: '2024-03-01T19:05:00Z',
            origin: 'RelatedPerson',
            rowKey: 'RelatedPerson/rp-quintero-1',
          },
        ],
      },
    ]);
  });

  it('keeps a guardian sent as a different RelatedPerson per child as two rows with one email', () => {
    const out = fhirToSnapshot(fixture('guardian-per-child-searchset.json'), mapping).map(mapped);
    expect(out.map((t) => t.controlId)).toEqual(['RelatedPerson/70112-70113', 'RelatedPerson/70112-70114']);
    const rows = out.flatMap((t) => contactsOf(t.ops));
    expect(rows.map((c) => [c.patientId, c.rowKey, c.contactId])).toEqual([
      // No RelatedPerson.identifier: no contact id (the resource id is per link); one guardian by email + name.
      ['70113', 'RelatedPerson/70112-70113', undefined],
      ['70114', 'RelatedPerson/70112-70114', undefined],
    ]);
    for (const c of rows) {
      // GT (a guarantor role in the RoleCode system, not a RoleCode) is skipped for the code the map knows.
      expect(c).toMatchObject({ relationship: 'guardian', relationshipCode: 'GUARD', authority: 'exclusive', email: 'tobias.wrenfield@example.org', cellPhone: '+12025550162' });
      expect(c.name).toEqual({ given: 'Tobias', family: 'Wrenfield' });
    }
  });

  it('counts an inactive RelatedPerson as authority none', () => {
    const rp = { ...(fixture('related-person-parent-joint.json') as object), active: false };
    const [c] = contactsOf(mapped(fhirToSnapshot(rp, mapping)[0]).ops);
    expect(c?.authority).toBe('none');
  });

  it('reads the patient from a logical identifier when there is no reference', () => {
    const rp = { resourceType: 'RelatedPerson', id: 'r1', patient: { identifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9990001112' } } };
    const [op] = mapped(fhirToSnapshot(rp, mapping)[0]).ops;
    expect(op).toMatchObject({ kind: 'upsert-contacts', patientId: '9990001112' });
  });

  it('rejects a RelatedPerson without a patient or without an id', () => {
    const [noPatient] = fhirToSnapshot({ resourceType: 'RelatedPerson', id: 'r2' }, mapping);
    expect(noPatient).toMatchObject({ controlId: 'RelatedPerson/r2', event: 'RelatedPerson' });
    expect((noPatient as RejectedResource).error.code).toBe('ERR_MAPPING_MISSING_FIELD');
    const [noId] = fhirToSnapshot({ resourceType: 'RelatedPerson', patient: { reference: 'Patient/p' } }, mapping);
    expect((noId as RejectedResource).error.code).toBe('ERR_MAPPING_MISSING_FIELD');
    expect(noId?.controlId).toBe('RelatedPerson');
  });
});

describe('fhirToSnapshot: Patient', () => {
  it('maps the patient and replaces its Patient.contact rows', () => {
    const input = mapped(fhirToSnapshot(fixture('patient-with-contacts.json'), mapping)[0]);
    expect(input.controlId).toBe('Patient/pt-ashdown-ellis');
    expect(input.warnings).toEqual([]);
    const [patientOp, contactsOp, ...rest] = input.ops;
    expect(rest).toEqual([]);
    expect(patientOp).toEqual({
      kind: 'upsert-patient',
      patient: {
        id: 'pt-ashdown-ellis',
        mrn: 'MRN-300117',
        name: { given: 'Ellis', family: 'Ashdown' },
        birthDate: '2012-02-29',
        deceased: false,
        active: true,
        email: 'ellis.ashdown@example.org',
        cellPhone: '+12025550110',
        sourceVersion: '2024-03-02T08:30:00Z',
      },
    });
    expect(contactsOp).toEqual({
      kind: 'upsert-contacts',
      mode: 'replace',
      origin: 'Patient.contact',
      patientId: 'pt-ashdown-ellis',
      sourceVersion: '2024-03-02T08:30:00Z',
      contacts: [
        {
          patientId: 'pt-ashdown-ellis',
          name: { given: 'Rafael', family: 'Ashdown' },
          relationship: 'father',
          relationshipCode: 'FTH',
          authority: 'joint',
          email: 'rafael.ashdown@example.org',
          cellPhone: '+12025550188',
          flags: { ...NO_FLAGS, declined: true },
          sourceVersion: '2024-03-02T08:30:00Z',
          origin: 'Patient.contact',
        },
        {
          patientId: 'pt-ashdown-ellis',
          name: { given: '', family: 'Odile Brandvold' },
          relationship: 'emergency-contact',
          relationshipCode: 'C',
          authority: 'unknown',
          flags: NO_FLAGS,
          sourceVersion: '2024-03-02T08:30:00Z',
          origin: 'Patient.contact',
        },
      ],
    });
  });

  it('sends an empty Patient.contact list (it is the full set) and honours contactsUpdate: merge', () => {
    const bare = { resourceType: 'Patient', id: 'p-bare' };
    expect(mapped(fhirToSnapshot(bare, mapping)[0]).ops[1]).toMatchObject({ kind: 'upsert-contacts', mode: 'replace', contacts: [] });
    const merging: Mapping = { ...mapping, policy: { ...mapping.policy, contactsUpdate: 'merge' } };
    expect(mapped(fhirToSnapshot(bare, merging)[0]).ops[1]).toMatchObject({ kind: 'upsert-contacts', mode: 'merge' });
  });

  it('turns a replaced-by link into mergedInto and a merge op; deceasedDateTime means deceased', () => {
    const input = mapped(fhirToSnapshot(fixture('patient-merged.json'), mapping)[0]);
    expect(input.ops[0]).toEqual({
      kind: 'upsert-patient',
      patient: {
        id: 'pt-old-4471',
        name: { given: 'Ellis', family: 'Ashdown' },
        birthDate: '2012-02-29',
        deceased: true,
        active: false,
        mergedInto: 'pt-ashdown-ellis',
        sourceVersion: '2024-06-10T10:00:00Z',
      },
    });
    expect(input.ops[1]).toMatchObject({ kind: 'upsert-contacts', contacts: [] });
    expect(input.ops[2]).toEqual({ kind: 'merge-patient', survivorId: 'pt-ashdown-ellis', mergedId: 'pt-old-4471', sourceVersion: '2024-06-10T10:00:00Z' });
  });
});

describe('fhirToSnapshot: Appointment', () => {
  it('maps the patient participant, time, place, provider and status', () => {
    const input = mapped(fhirToSnapshot(fixture('appointment-booked.json'), mapping)[0]);
    expect(input).toMatchObject({ controlId: 'Appointment/appt-9001', event: 'Appointment', warnings: [] });
    expect(input.ops).toEqual([
      {
        kind: 'upsert-appointment',
        appointment: {
          id: 'appt-9001',
          patientId: 'pt-ashdown-ellis',
          start: '2024-04-15T17:30:00Z',
          location: 'Location/clinic-north',
          provider: 'Practitioner/dr-lindqvist',
          status: 'booked',
          sourceVersion: '2024-04-01T10:00:00Z',
        },
      },
    ]);
  });

  it('unwraps the documentation shapes {fullUrl, resource}, also double-wrapped in a Bundle', () => {
    const top = mapped(fhirToSnapshot(fixture('appointment-documentation-wrapped.json'), mapping)[0]);
    expect(top.ops[0]).toMatchObject({ appointment: { id: 'appt-7002', patientId: 'pt-halvorsen-iris', status: 'cancelled' } });
    const inner = mapped(fhirToSnapshot(fixture('bundle-double-wrapped-entry.json'), mapping)[0]);
    expect(inner.ops[0]).toMatchObject({ appointment: { id: 'appt-7003', status: 'deleted' } });
  });

  it('rejects an appointment without a patient participant', () => {
    const [t] = fhirToSnapshot({ resourceType: 'Appointment', id: 'a1', status: 'booked', participant: [{ actor: { reference: 'Location/x' } }] }, mapping);
    expect(t && isRejected(t) && t.error.code).toBe('ERR_MAPPING_MISSING_FIELD');
  });
});

describe('fhirToSnapshot: Bundles and bad input', () => {
  it('rejects the malformed Patient of a Bundle and maps the rest', () => {
    const out = fhirToSnapshot(fixture('bundle-one-malformed-patient.json'), mapping);
    expect(out.map((t) => [t.controlId, isRejected(t) ? t.error.code : 'mapped'])).toEqual([
      ['Patient@entry[0]', 'ERR_MAPPING_MISSING_FIELD'],
      ['Patient/pt-halvorsen-iris', 'mapped'],
      ['RelatedPerson/rp-halvorsen-dag', 'mapped'],
      ['RelatedPerson/rp-orphan', 'ERR_MAPPING_MISSING_FIELD'],
      ['entry[6]', 'ERR_FHIR_UNPARSEABLE'],
    ]);
    for (const t of out.filter(isRejected)) {
      expect(t.error).toBeInstanceOf(BridgeError);
      expect(t.error.message).not.toMatch(/\n|Nobody|Withoutid|Orphan/);
    }
    // urn:uuid references inside a transaction resolve to the uuid; the Patient there has its own id.
    expect(contactsOf(mapped(out[2]).ops)[0]).toMatchObject({ patientId: '5d3c9a8e-1f2b-4c6d-8e7f-9a0b1c2d3e4f', relationship: 'father' });
  });

  it('says so when the input holds no Patient, RelatedPerson or Appointment', () => {
    expect(fhirToSnapshot({ resourceType: 'Observation', id: 'o1' }, mapping)).toEqual([
      { controlId: 'Observation/o1', event: 'Observation', ops: [], warnings: ['no Patient, RelatedPerson or Appointment resource'] },
    ]);
    expect(fhirToSnapshot({ resourceType: 'Bundle', type: 'searchset', total: 0 }, mapping)).toEqual([
      { controlId: 'Bundle', event: 'Bundle', ops: [], warnings: ['no Patient, RelatedPerson or Appointment resource'] },
    ]);
  });

  it('accepts JSON text, and reads Bundles nested in Bundles', () => {
    const nested = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Patient', id: 'deep' } }] } }] };
    expect(fhirToSnapshot(`\uFEFF${JSON.stringify(nested)}`, mapping).map((t) => t.controlId)).toEqual(['Patient/deep']);
  });

  it.each([
    [null, 'input is null, not a FHIR resource'],
    [42, 'input is a number, not a FHIR resource'],
    [[{ resourceType: 'Patient' }], 'input is a JSON array, not a FHIR resource or Bundle'],
    [{ id: 'x' }, 'input has no resourceType'],
    ['{"resourceType": ', 'input is not valid JSON'],
  ])('throws ERR_FHIR_UNPARSEABLE for %j', (input, message) => {
    expect(() => fhirToSnapshot(input, mapping)).toThrow(BridgeError);
    try {
      fhirToSnapshot(input, mapping);
    } catch (e) {
      expect((e as BridgeError).code).toBe('ERR_FHIR_UNPARSEABLE');
      expect((e as BridgeError).message).toBe(message);
    }
  });

  it('refuses an HL7 v2 mapping', () => {
    const hl7: Mapping = { ...mapping, format: 'hl7v2' };
    expect(() => fhirToSnapshot({ resourceType: 'Patient', id: 'p' }, hl7)).toThrow(/is for hl7v2, not FHIR/);
  });

  it('does not change its input and gives the same answer twice', () => {
    const input = fixture('bundle-one-malformed-patient.json');
    const copy = structuredClone(input);
    const first = JSON.stringify(fhirToSnapshot(input, mapping));
    expect(JSON.stringify(fhirToSnapshot(input, mapping))).toBe(first);
    expect(input).toEqual(copy);
  });
});

describe('fhirToSnapshot: field reading', () => {
  it('drops a bad value with a warning that carries no patient data, and keeps the rest', () => {
    const rp = {
      resourceType: 'RelatedPerson',
      id: 'r3',
      patient: { reference: 'Patient/p' },
      birthDate: 'not-a-date',
      telecom: [{ system: 'phone', use: 'mobile', value: '555-555-5555' }, { system: 'email', value: 'kit.norrland@example.org' }],
    };
    const input = mapped(fhirToSnapshot(rp, mapping)[0]);
    expect(input.warnings).toEqual(['cellPhone is not a valid phone number; ignored', 'birthDate is not a date; ignored']);
    expect(contactsOf(input.ops)[0]).toMatchObject({ email: 'kit.norrland@example.org', relationship: 'other', authority: 'unknown' });
    expect(contactsOf(input.ops)[0]).not.toHaveProperty('cellPhone');
  });

  it('warns when a path gives a structure instead of a value', () => {
    const custom: Mapping = {
      ...mapping,
      contacts: [{ from: 'RelatedPerson', join: [], fields: { patientId: { paths: ['patient'] } } }],
    };
    const [t] = fhirToSnapshot({ resourceType: 'RelatedPerson', id: 'r4', patient: { reference: 'Patient/p' } }, custom);
    expect(t && isRejected(t) && t.warnings).toEqual(['patientId path gives a structure, not a value (add e.g. .code or .value); ignored']);
  });
});
