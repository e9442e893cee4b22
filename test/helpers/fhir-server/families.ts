import type { GeneratedKind } from './store';
import type { FhirResource } from './types';

/**
 * Synthetic families as FHIR R4 resources, the FHIR twin of test/helpers/families.ts. Invented people only.
 * Guardian g has `childrenPer` children, Patient `P<g>-<n>` (identifier type MR = the same value, born 2015–2020).
 * As real EHRs do (Oracle Health), the guardian appears once per child as a RelatedPerson `RP<g>-<n>` of that child:
 * same name (Testparent Testfamily<g>), email guardian<g>@example.org, mobile +1 202-555-01xx, identifier G<g>
 * (the mapping's contactId) unless `contactIds` is false, relationship MTH (odd g) or FTH (even g), authority joint.
 * With `coParents`, each family also has a second guardian, RelatedPerson `RP<g>-<n>b` per child: Testcoparent
 * Testfamily<g>, guardian<g>b@example.org, identifier G<g>b, the other relationship (FTH for odd g, else MTH).
 */

export interface FhirFamilyOptions {
  readonly guardians: number;
  /** Children per guardian (default 2). */
  readonly childrenPer?: number;
  /** Number of the first guardian (default 1). */
  readonly startIndex?: number;
  /** Give each RelatedPerson the identifier G<g> (default true); without it guardians are known by email + name. */
  readonly contactIds?: boolean;
  /** A second guardian per family (default false): two RelatedPersons per child. */
  readonly coParents?: boolean;
}

const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
const V3_ROLE = 'http://terminology.hl7.org/CodeSystem/v3-RoleCode';
export const TEST_MRN_SYSTEM = 'urn:portal-bridge:test:mrn';
export const TEST_CONTACT_SYSTEM = 'urn:portal-bridge:test:contact';

/** `P12-3` → [12, 3, false]; `RP12-3b` → [12, 3, true]. */
const GENERATED_ID = { P: /^P(\d+)-(\d+)()$/, RP: /^RP(\d+)-(\d+)(b?)$/ } as const;

function parse(id: string, prefix: keyof typeof GENERATED_ID): [number, number, boolean] {
  const m = GENERATED_ID[prefix].exec(id);
  if (m === null) throw new Error(`not a generated ${prefix} id: ${id}`);
  return [Number(m[1]), Number(m[2]), m[3] === 'b'];
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

export function familyPatient(g: number, n: number): FhirResource {
  return {
    resourceType: 'Patient',
    id: `P${g}-${n}`,
    identifier: [{ use: 'usual', type: { coding: [{ system: V2_0203, code: 'MR' }] }, system: TEST_MRN_SYSTEM, value: `P${g}-${n}` }],
    active: true,
    name: [{ use: 'official', family: `Testfamily${g}`, given: [`Testchild${n}`] }],
    gender: n % 2 === 1 ? 'female' : 'male',
    birthDate: `${2015 + ((g + n) % 6)}-${pad2(1 + (g % 12))}-${pad2(1 + ((g * 7 + n) % 28))}`,
  };
}

/** The RelatedPerson of guardian g (or of g's co-parent) for child n. */
export function familyRelatedPerson(g: number, n: number, contactIds = true, coParent = false): FhirResource {
  const mother = (g % 2 === 1) !== coParent;
  const b = coParent ? 'b' : '';
  return {
    resourceType: 'RelatedPerson',
    id: `RP${g}-${n}${b}`,
    extension: [{ url: 'urn:portal-bridge:authority', valueCode: 'joint' }],
    ...(contactIds ? { identifier: [{ system: TEST_CONTACT_SYSTEM, value: `G${g}${b}` }] } : {}),
    active: true,
    patient: { reference: `Patient/P${g}-${n}` },
    relationship: [{ coding: [{ system: V3_ROLE, code: mother ? 'MTH' : 'FTH', display: mother ? 'mother' : 'father' }] }],
    name: [{ use: 'official', family: `Testfamily${g}`, given: [coParent ? 'Testcoparent' : 'Testparent'] }],
    telecom: [
      { system: 'email', value: `guardian${g}${b}@example.org`, use: 'home' },
      { system: 'phone', value: `+1 202-555-01${pad2((coParent ? g + 50 : g) % 100)}`, use: 'mobile' },
    ],
    gender: mother ? 'female' : 'male',
  };
}

/** How the store builds generated Patients on demand. */
export const PATIENT_KIND: GeneratedKind = {
  build: (id, meta) => {
    const [g, n] = parse(id, 'P');
    return { ...familyPatient(g, n), meta };
  },
  refs: () => [],
};

/** How the store builds generated RelatedPersons on demand. */
export function relatedPersonKind(contactIds: boolean): GeneratedKind {
  return {
    build: (id, meta) => {
      const [g, n, coParent] = parse(id, 'RP');
      return { ...familyRelatedPerson(g, n, contactIds, coParent), meta };
    },
    refs: (id) => {
      const [g, n] = parse(id, 'RP');
      return [`Patient/P${g}-${n}`];
    },
  };
}

/** The ids of the families, guardian by guardian (co-parents' RelatedPersons after each child's first). */
export function* familyIds(options: FhirFamilyOptions, prefix: 'P' | 'RP'): Generator<string> {
  const first = options.startIndex ?? 1;
  for (let g = first; g < first + options.guardians; g++) {
    for (let n = 1; n <= (options.childrenPer ?? 2); n++) {
      yield `${prefix}${g}-${n}`;
      if (prefix === 'RP' && options.coParents === true) yield `RP${g}-${n}b`;
    }
  }
}
