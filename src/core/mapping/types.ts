import type { Policy } from '../policy';

/**
 * A mapping file after validation (schema.ts): where each canonical field lives in one EHR's feed, how its codes map,
 * and the practice policy. Shared by the HL7 v2 and FHIR translators; `format` says how `paths` are written.
 */

/** Built-in extractors for HL7 XTN values (a path that stops at the XTN repetition, without a component). */
export const FIELD_EXTRACTORS = ['xtn-email', 'xtn-phone'] as const;
export type FieldExtractor = (typeof FIELD_EXTRACTORS)[number];

/** Where one canonical field comes from. The first path that yields a non-empty value wins. */
export interface FieldSpec {
  readonly paths: readonly string[];
  /** Name of a code map in `codeMaps` applied to the raw value. */
  readonly map?: string;
  /** Used when no path yields a value (before the code map's own default). */
  readonly default?: string | boolean;
  readonly as?: FieldExtractor;
}

/** A code map: raw code → canonical value. Lookup trims and, unless caseSensitive, ignores case. */
export interface CodeMap {
  readonly values: ReadonlyMap<string, string | boolean>;
  /** Used when the code is absent or not in `values`; undefined leaves the field unset. */
  readonly default?: string | boolean;
  readonly caseSensitive: boolean;
}

export const PATIENT_FIELDS = {
  id: 'string',
  mrn: 'string',
  givenName: 'string',
  familyName: 'string',
  birthDate: 'date',
  deceased: 'boolean',
  deathDate: 'datetime',
  active: 'boolean',
  mergedInto: 'string',
  email: 'email',
  cellPhone: 'phone',
  version: 'datetime',
} as const;

export const CONTACT_FIELDS = {
  patientId: 'string',
  contactId: 'string',
  givenName: 'string',
  familyName: 'string',
  relationship: 'relationship',
  authority: 'authority',
  email: 'email',
  cellPhone: 'phone',
  birthDate: 'date',
  noAccess: 'boolean',
  declined: 'boolean',
  staffCreated: 'boolean',
  limitedAccess: 'boolean',
  version: 'datetime',
} as const;

export const APPOINTMENT_FIELDS = {
  id: 'string',
  patientId: 'string',
  start: 'datetime',
  location: 'string',
  provider: 'string',
  status: 'appointment-status',
  version: 'datetime',
} as const;

/** HL7 A40: evaluated once per PID/MRG pair. */
export const MERGE_FIELDS = { survivorId: 'string', mergedId: 'string' } as const;

export type FieldType =
  | (typeof PATIENT_FIELDS)[keyof typeof PATIENT_FIELDS]
  | (typeof CONTACT_FIELDS)[keyof typeof CONTACT_FIELDS]
  | (typeof APPOINTMENT_FIELDS)[keyof typeof APPOINTMENT_FIELDS];

export type PatientFieldName = keyof typeof PATIENT_FIELDS;
export type ContactFieldName = keyof typeof CONTACT_FIELDS;
export type AppointmentFieldName = keyof typeof APPOINTMENT_FIELDS;
export type MergeFieldName = keyof typeof MERGE_FIELDS;

/** A segment joined to each contact row (HL7): the first `segment` after the row whose field `on` equals the
 * row's set id (field 1); when the row has no set id, the `segment` immediately following the row. */
export interface SegmentJoin {
  readonly segment: string;
  readonly on: number;
}

/**
 * One source of contact rows. HL7: `from` is a segment name (NK1), each occurrence is a row.
 * FHIR: `from` is a resource type (RelatedPerson: each resource is a row, `patientId` field required) or a
 * FHIRPath rooted at Patient (`Patient.contact`: each element is a row of that patient).
 */
export interface ContactSource {
  readonly from: string;
  readonly join: readonly SegmentJoin[];
  readonly fields: Readonly<Partial<Record<ContactFieldName, FieldSpec>>>;
}

export const HL7_ACTIONS = ['upsert', 'merge', 'appointment', 'ignore'] as const;
export type Hl7Action = (typeof HL7_ACTIONS)[number];

export interface EventRule {
  readonly action: Hl7Action;
  /** For `appointment`: the status this event implies (S15 cancelled…), used when the status field is empty. */
  readonly appointmentStatus?: string;
}

export interface Mapping {
  readonly format: 'hl7v2' | 'fhir';
  readonly name: string;
  readonly description?: string;
  /** HL7 only: message type `MSH-9.1^MSH-9.2` (e.g. `ADT^A04`) → what to do. */
  readonly events: ReadonlyMap<string, EventRule>;
  /** HL7 only: what to do with a message type not in `events`. */
  readonly unknownEvents: 'reject' | 'ignore';
  readonly patient: Readonly<Partial<Record<PatientFieldName, FieldSpec>>>;
  readonly contacts: readonly ContactSource[];
  readonly merge: Readonly<Partial<Record<MergeFieldName, FieldSpec>>>;
  readonly appointment: Readonly<Partial<Record<AppointmentFieldName, FieldSpec>>>;
  readonly codeMaps: ReadonlyMap<string, CodeMap>;
  readonly policy: Policy;
}
