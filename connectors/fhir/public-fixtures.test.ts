import { readdirSync, readFileSync } from 'fs';
import path from 'path';
import type { MappedInput } from '../../src/core/mapping/mapped-input';
import { AUTHORITIES, RELATIONSHIPS, type Contact, type SnapshotOp } from '../../src/core/model';
import { isBridgeError } from '../../src/errors';
import { publicFixtures } from '../../test/helpers/fixtures';
import { bundledMapping } from '../../test/helpers/mappings';
import { fhirToSnapshot, isRejected, type FhirTranslation } from './to-snapshot';

/** Real FHIR samples (../shared/fixtures/public/SOURCES.md) through the default mapping. */
const fixtures = publicFixtures('fhir');
const DIR = fixtures?.dir ?? '';
const run = fixtures !== undefined;

(run ? describe : describe.skip)('public FHIR fixtures', () => {
  const mapping = bundledMapping('fhir');
  const files = run ? readdirSync(DIR).filter((f) => f.endsWith('.json')).sort() : [];
  const translate = (file: string): FhirTranslation[] => fhirToSnapshot(JSON.parse(readFileSync(path.join(DIR, file), 'utf8')), mapping);
  const mappedOnly = (file: string): MappedInput[] =>
    translate(file).map((t) => {
      if (isRejected(t)) throw new Error(`${file}: ${t.controlId} rejected: ${t.error.message}`);
      return t;
    });
  const contacts = (ops: readonly SnapshotOp[]): Contact[] => ops.flatMap((op) => (op.kind === 'upsert-contacts' ? [...op.contacts] : []));
  const contactsOf = (file: string): Contact[] => mappedOnly(file).flatMap((t) => contacts(t.ops));

  it('finds the fixtures', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files.map((f) => [f]))('%s maps without a crash', (file) => {
    const out = translate(file);
    expect(out.length).toBeGreaterThan(0);
    for (const t of out) {
      expect(t.controlId).toEqual(expect.any(String));
      for (const w of t.warnings) expect(w).not.toMatch(/\n/);
      if (isRejected(t)) {
        expect(isBridgeError(t.error)).toBe(true);
        expect(t.error.message).not.toMatch(/\n/);
        continue;
      }
      for (const c of contacts(t.ops)) {
        expect(RELATIONSHIPS).toContain(c.relationship);
        expect(AUTHORITIES).toContain(c.authority);
        expect(c.patientId).not.toBe('');
      }
    }
  });

  it('maps the R4 RelatedPerson examples by their family relation', () => {
    const pick = (file: string): Partial<Contact> => {
      const [c, ...rest] = contactsOf(file);
      expect(rest).toEqual([]);
      return c ?? {};
    };
    expect(pick('fhirR4spec__relatedperson-example-newborn-mom.json')).toMatchObject({
      patientId: 'newborn',
      contactId: '444222222',
      rowKey: 'RelatedPerson/newborn-mom',
      name: { given: 'Eve', family: 'Everywoman' },
      relationship: 'mother',
      relationshipCode: 'NMTH',
      authority: 'unknown',
      birthDate: '1973-05-31',
      origin: 'RelatedPerson',
    });
    // v2-0131 N next to v3 WIFE: the family relation wins.
    expect(pick('fhirR4spec__relatedperson-example.json')).toMatchObject({ patientId: 'example', relationship: 'spouse', relationshipCode: 'WIFE', name: { given: 'Bénédicte', family: 'du Marché' } });
    expect(pick('fhirR4spec__relatedperson-example-peter.json')).toMatchObject({ patientId: 'animal', relationship: 'emergency-contact', relationshipCode: 'C' });
    expect(pick('fhirR4spec__relatedperson-example-peter.json').contactId).toBeUndefined();
    // A Dutch mobile number is not valid in the default region (US): dropped with a warning, the email stays.
    expect(pick('fhirR4spec__relatedperson-example-f001-sarah.json')).toMatchObject({ patientId: 'f001', relationship: 'spouse', email: 's.abels@kpn.nl' });
    expect(pick('fhirR4spec__relatedperson-example-f002-ariadne.json')).toMatchObject({ patientId: 'f201', name: { given: '', family: 'Ariadne Bor-Jansma' }, birthDate: '1963' });
    expect(pick('uscore__RelatedPerson_shaw_niece.json')).toMatchObject({ patientId: 'example', relationship: 'other-relative', relationshipCode: 'NIECE', email: 'sarah.vanputten@example.com', birthDate: '1996-01-28' });
  });

  it('maps the NHS PDS guardian searchset (patient by NHS number, UK Guardian code)', () => {
    const [input, ...rest] = mappedOnly('nhs_pds__RelatedPerson_searchset_guardian.json');
    expect(rest).toEqual([]);
    expect(input?.controlId).toBe('RelatedPerson/507B7621');
    expect(input?.ops).toEqual([
      {
        kind: 'upsert-contacts',
        mode: 'merge',
        origin: 'RelatedPerson',
        patientId: '9000000009',
        sourceVersion: '',
        contacts: [
          {
            patientId: '9000000009',
            name: { given: 'Jane', family: 'Smith' },
            relationship: 'guardian',
            relationshipCode: 'Guardian',
            authority: 'unknown',
            flags: { noAccess: false, declined: false, staffCreated: false, limitedAccess: false },
            sourceVersion: '',
            origin: 'RelatedPerson',
            rowKey: 'RelatedPerson/507B7621',
          },
        ],
      },
    ]);
    expect(contactsOf('nhs_pds__RelatedPerson_searchset_referenced_patient.json')).toMatchObject([{ patientId: '9000000009', relationship: 'guardian', name: { given: '', family: '' } }]);
  });

  it('maps the US Core child Patient (no contacts: an empty Patient.contact set)', () => {
    const [input] = mappedOnly('uscore__Patient_child.json');
    expect(input?.ops).toEqual([
      {
        kind: 'upsert-patient',
        patient: { id: 'child-example', mrn: '1032704', name: { given: 'Child', family: 'Example' }, birthDate: '2016-01-15', deceased: false, active: true, sourceVersion: '' },
      },
      { kind: 'upsert-contacts', mode: 'replace', origin: 'Patient.contact', patientId: 'child-example', contacts: [], sourceVersion: '' },
    ]);
  });

  it('maps Patient.contact of the R4 Patient example', () => {
    const [input] = mappedOnly('fhirR4spec__patient-example.json');
    expect(input?.ops[0]).toMatchObject({ kind: 'upsert-patient', patient: { id: 'example', mrn: '12345', name: { given: 'Peter', family: 'Chalmers' }, deceased: false } });
    expect(contacts(input?.ops ?? [])).toEqual([
      {
        patientId: 'example',
        name: { given: 'Bénédicte', family: 'du Marché' },
        relationship: 'other',
        relationshipCode: 'N',
        authority: 'unknown',
        flags: { noAccess: false, declined: false, staffCreated: false, limitedAccess: false },
        sourceVersion: '',
        origin: 'Patient.contact',
      },
    ]);
    // The patient's mobile is an Australian number: invalid in the default region, dropped with a word of warning.
    expect(input?.warnings).toEqual(['cellPhone is not a valid phone number; ignored']);
    expect(contactsOf('fhirR4spec__patient-example-infant-twin-1.json')).toMatchObject([{ relationship: 'mother', name: { given: 'Leia', family: 'Organa' } }]);
    expect(contactsOf('fhirR4spec__patient-example-f201-roel.json')).toMatchObject([{ relationship: 'spouse' }]);
  });

  it('maps the NHS PDS Patient: deceasedDateTime, own email, emergency contact', () => {
    const [input] = mappedOnly('nhs_pds__Patient_with_contact_email.json');
    expect(input?.ops[0]).toMatchObject({ patient: { id: '9000000009', deceased: true, email: 'jane.smith@example.com' } });
    expect(contacts(input?.ops ?? [])).toMatchObject([{ relationship: 'emergency-contact', relationshipCode: 'C' }]);
  });

  it.each([
    ['synthea__transaction_bundle_pediatric_Luigi_Wiegand.json', '1ae0605d-e5b8-4d6d-a96d-c93dcbd57e06', { given: 'Luigi', family: 'Wiegand' }, '2020-10-20'],
    ['synthea__transaction_bundle_non_ascii_Gustavo_Mejia.json', 'cdf500b9-7cc4-424d-a86c-a18e6620d6e7', { given: 'Gustavo', family: 'Mejía' }, '1986-11-27'],
  ])('maps the one Patient of the Synthea bundle %s, which has no contacts', (file, id, name, birthDate) => {
    const out = mappedOnly(file);
    expect(out.map((t) => t.controlId)).toEqual([`Patient/${id}`]);
    expect(out[0]?.ops).toEqual([
      { kind: 'upsert-patient', patient: expect.objectContaining({ id, name, birthDate, deceased: false, active: true }) },
      { kind: 'upsert-contacts', mode: 'replace', origin: 'Patient.contact', patientId: id, contacts: [], sourceVersion: '' },
    ]);
  });

  it('maps the R4 Appointment examples', () => {
    expect(mappedOnly('fhirR4spec__appointment-example.json')[0]?.ops).toEqual([
      {
        kind: 'upsert-appointment',
        appointment: { id: 'example', patientId: 'example', start: '2013-12-10T09:00:00Z', location: 'Location/1', provider: 'Practitioner/example', status: 'booked', sourceVersion: '' },
      },
    ]);
    // A proposed appointment has only a requested period.
    expect(mappedOnly('fhirR4spec__appointment-example-request.json')[0]?.ops[0]).toMatchObject({ appointment: { id: 'examplereq', start: '2016-06-02T00:00:00', status: 'booked' } });
  });

  it('says "no Patient, RelatedPerson or Appointment" for inputs without them', () => {
    for (const file of ['fhirR4spec__bundle-example.json', 'fhirR4spec__consent-example-smartonfhir.json']) {
      expect(mappedOnly(file)).toMatchObject([{ ops: [], warnings: ['no Patient, RelatedPerson or Appointment resource'] }]);
    }
  });
});
