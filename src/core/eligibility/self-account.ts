/**
 * R14: a patient who reached the age limit manages their own record. Their guardians' links go (checks.ts);
 * this file decides whether the patient gets an account of their own, at their own email.
 */
import { ageOn } from '../age';
import { emailKey, nameKey } from '../identity';
import { NO_FLAGS, type Contact, type Patient } from '../model';
import type { Policy } from '../policy';

/** What R14 wants for a patient's own account. */
export type SelfAccountPlan =
  /** A contact synthesised from the patient; it is grouped and decided like any other row. */
  | { readonly kind: 'account'; readonly contact: Contact }
  /** No own account possible: no email of their own, or it is also a guardian's on the chart. */
  | { readonly kind: 'hold'; readonly contact: Contact; readonly why: 'noEmail' | 'sharedEmail' };

/** The patient's age on asOf, or undefined when the birth date cannot tell. */
export function patientAge(patient: Patient, asOf: string): number | undefined {
  return patient.birthDate === undefined ? undefined : ageOn(patient.birthDate, asOf);
}

/**
 * True when a contact row is the patient themselves: same name-key and, when both are known, the same birth date
 * (e.g. a parent-who-is-a-patient listed as Other Relative on their own chart). R14 and R15 never unlink these.
 */
export function isPatientThemselves(contact: Contact, patient: Patient): boolean {
  if (nameKey(contact.name) !== nameKey(patient.name)) return false;
  return contact.birthDate === undefined || patient.birthDate === undefined || contact.birthDate === patient.birthDate;
}

/**
 * R14's own-account plan for one patient, given the rows on their chart. Undefined when the patient is under
 * the age limit (or their age is unknown). An account when the patient's own email-key differs from every other
 * contact's email-key on the chart. Otherwise a hold — except when a row on the chart is the patient themselves
 * (that row is decided normally), or the chart is deceased/merged (nothing to hold).
 */
export function planSelfAccount(
  patient: Patient,
  chartRows: readonly Contact[],
  policy: Policy,
  asOf: string,
): SelfAccountPlan | undefined {
  const age = patientAge(patient, asOf);
  if (age === undefined || age < policy.minorAgeLimit) return undefined;
  const themselves = chartRows.filter((row) => isPatientThemselves(row, patient));
  const otherKeys = new Set(chartRows.filter((row) => !isPatientThemselves(row, patient)).map((row) => emailKey(row.email)));
  const ownKey = emailKey(patient.email);
  const contact = selfContact(patient);
  if (ownKey !== undefined && !otherKeys.has(ownKey)) return { kind: 'account', contact };
  if (themselves.length > 0 || patient.deceased || patient.mergedInto !== undefined) return undefined;
  return { kind: 'hold', contact, why: ownKey === undefined ? 'noEmail' : 'sharedEmail' };
}

/** The guardian key of a held self-account (no email-key identifies it). */
export function selfHoldKey(patient: Patient): string {
  return `p:${patient.id}/${nameKey(patient.name)}`;
}

function selfContact(patient: Patient): Contact {
  return {
    patientId: patient.id,
    name: patient.name,
    relationship: 'self',
    authority: 'exclusive',
    ...(patient.email !== undefined ? { email: patient.email } : {}),
    ...(patient.cellPhone !== undefined ? { cellPhone: patient.cellPhone } : {}),
    ...(patient.birthDate !== undefined ? { birthDate: patient.birthDate } : {}),
    flags: NO_FLAGS,
    sourceVersion: patient.sourceVersion,
  };
}
