/**
 * The canonical model (DESIGN §3): what every connector turns EHR data into, and what eligibility reads.
 * Pure data: no methods, no I/O. Dates are ISO strings (`YYYY-MM-DD`, or full RFC 3339 for versions).
 */

/** A person's name as the EHR holds it. Both parts may be empty when the feed sends none. */
export interface PersonName {
  readonly given: string;
  readonly family: string;
}

export const RELATIONSHIPS = [
  'mother',
  'father',
  'parent',
  'guardian',
  'self',
  'other-relative',
  'spouse',
  'sibling',
  'child',
  'emergency-contact',
  'other',
  'unknown',
] as const;
/** Who the contact is to the patient, after the mapping's code map (HL7 table 0063, v3 RoleCode, local codes). */
export type Relationship = (typeof RELATIONSHIPS)[number];

export const AUTHORITIES = ['joint', 'exclusive', 'none', 'unknown'] as const;
/** Legal authority over the patient's record, as on a chart's Family Contacts ("Authority"). */
export type Authority = (typeof AUTHORITIES)[number];

/** Contact flags that the EHR records (DESIGN §3). All default to false. */
export interface ContactFlags {
  /** Court order or custody restriction: never give this contact access. */
  readonly noAccess: boolean;
  /** The contact declined portal enrolment: never invite. */
  readonly declined: boolean;
  /** Staff created the account at the desk with a temporary password: link, send nothing. */
  readonly staffCreated: boolean;
  /** Access should be limited (e.g. adolescent privacy). */
  readonly limitedAccess: boolean;
}

export const NO_FLAGS: ContactFlags = Object.freeze({
  noAccess: false,
  declined: false,
  staffCreated: false,
  limitedAccess: false,
});

/** A patient as the EHR knows them. `id` is the stable EHR id the mapping defines (default PID-3 of type MR). */
export interface Patient {
  readonly id: string;
  readonly mrn?: string;
  readonly name: PersonName;
  readonly birthDate?: string;
  readonly deceased: boolean;
  readonly active: boolean;
  /** Set when the record was merged into another (A40 / Patient.link replaced-by): the survivor's id. */
  readonly mergedInto?: string;
  /** The patient's own email, as entered (used when they age out and get their own account). */
  readonly email?: string;
  /** The patient's own cell phone in E.164. */
  readonly cellPhone?: string;
  /** Message time or meta.lastUpdated (RFC 3339 or HL7 TS normalised to RFC 3339). Older never overwrites newer. */
  readonly sourceVersion: string;
}

/** One patient↔person link, as one row on a chart's Family Contacts. */
export interface Contact {
  readonly patientId: string;
  /** The EHR's stable id for the person, when the feed has one (NK1-33, RelatedPerson.identifier). */
  readonly contactId?: string;
  readonly name: PersonName;
  readonly relationship: Relationship;
  /** The code as received, before the code map (kept for explanations). */
  readonly relationshipCode?: string;
  readonly authority: Authority;
  /** As entered; never normalised here (the email-key is derived in identity.ts). */
  readonly email?: string;
  /** E.164, or absent when the feed had none or it was not a valid number. */
  readonly cellPhone?: string;
  readonly birthDate?: string;
  readonly flags: ContactFlags;
  /** Same meaning as Patient.sourceVersion: the version of the message that last wrote this row. */
  readonly sourceVersion: string;
  /** Which kind of source row this came from (`NK1`, `RelatedPerson`, `Patient.contact`): a replacing update
   * replaces only the rows of its own origin. */
  readonly origin?: string;
  /** The row's identity within its source (e.g. `RelatedPerson/123`): a merging update replaces the row with the
   * same key (else same contactId, else same name). */
  readonly rowKey?: string;
}

export const APPOINTMENT_STATUSES = ['booked', 'rescheduled', 'cancelled', 'deleted', 'unknown'] as const;
export type AppointmentStatus = (typeof APPOINTMENT_STATUSES)[number];

/** A scheduled visit (for schedule enrolment). */
export interface Appointment {
  readonly id: string;
  readonly patientId: string;
  readonly start?: string;
  readonly location?: string;
  readonly provider?: string;
  readonly status: AppointmentStatus;
  readonly sourceVersion: string;
}

/**
 * What one accepted message or resource says should change. Connectors' `to-snapshot` produce these; `applyOps`
 * folds them into a Snapshot. `contacts` absent means "this message carries no contacts": leave them untouched.
 */
export type SnapshotOp =
  | { readonly kind: 'upsert-patient'; readonly patient: Patient; readonly contacts?: readonly Contact[] }
  | {
      readonly kind: 'upsert-contacts';
      readonly patientId: string;
      readonly contacts: readonly Contact[];
      /** `replace`: these are all of the patient's contacts of this origin; `merge`: add or update these rows. */
      readonly mode: 'replace' | 'merge';
      readonly origin: string;
      readonly sourceVersion: string;
    }
  | { readonly kind: 'merge-patient'; readonly survivorId: string; readonly mergedId: string; readonly sourceVersion: string }
  | { readonly kind: 'upsert-appointment'; readonly appointment: Appointment };

/** Current state of everything the feed told us: the input to eligibility. */
export interface Snapshot {
  readonly patients: ReadonlyMap<string, Patient>;
  /** Contacts by patient id, in the order the feed listed them. */
  readonly contacts: ReadonlyMap<string, readonly Contact[]>;
  readonly appointments: ReadonlyMap<string, Appointment>;
}
