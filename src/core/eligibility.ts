/**
 * Eligibility (DESIGN §4): who should have portal access to whom, decided per (patient, contact row) pair with a
 * rule id and a reason staff can read. Pure: the snapshot, the policy and the date are all parameters, and the
 * result never depends on the order of patients or contacts in the snapshot.
 */
import { desiredAccounts } from './desired-state';
import { findConflicts } from './eligibility/conflicts';
import { decidePair } from './eligibility/checks';
import { isPatientThemselves, patientAge, planSelfAccount, selfHoldKey, type SelfAccountPlan } from './eligibility/self-account';
import type { Decision, EligibilityResult } from './eligibility/types';
import { compareContacts, compareText, groupGuardians, nameKey } from './identity';
import type { Contact, Patient, Snapshot } from './model';
import type { Policy } from './policy';

export { OUTCOMES, RULE_IDS, RULES, formatReason, type Outcome, type RuleId } from './eligibility/rules';
export type {
  AccessLevel, Conflict, Decision, DecisionWarning, DesiredAccount, DesiredDependent, EligibilityResult,
} from './eligibility/types';

/**
 * Decides every (patient, contact row) pair of the snapshot, then the desired accounts and the R12 conflicts.
 *
 * Every rule R01–R15 and R20 is evaluated for every pair; the strongest outcome wins
 * (unlink > conflict > hold > skip > link-limited > provision) and the lowest rule id among rules with that outcome
 * gives the reported rule and reason. R13 (duplicate contact) only adds a warning.
 *
 * - `asOf` is today's date (`YYYY-MM-DD`) in the practice's time zone (see localDate in age.ts).
 * - Email (R09/R10), cell phone (R11), the adult check (R08, any of the guardian's rows under
 *   policy.minorAgeLimit) and R12 are judged per guardian (see groupGuardians); authority, role and flags per row.
 *   An email is always required (R09): passwordless login still identifies a guardian by email.
 * - R14: a patient at or over policy.minorAgeLimit: guardians' pairs unlink, except rows that are the patient
 *   themselves; the patient gets a synthesised self row (role 'self', authority exclusive) that is grouped and
 *   decided like any other row, when their email-key differs from every other contact's on the chart; else a
 *   hold decision under guardianKey `p:<patientId>/<name-key>` (none when a row is the patient themselves).
 * - Contacts listed under a patient id that is not in `snapshot.patients`, or whose patientId differs from the
 *   key they are listed under, are ignored.
 */
export function decide(snapshot: Snapshot, policy: Policy, asOf: string): EligibilityResult {
  const patients = [...snapshot.patients.values()].sort((a, b) => compareText(a.id, b.id));
  const chartRows = new Map<string, Contact[]>();
  for (const patient of patients) {
    const rows = (snapshot.contacts.get(patient.id) ?? []).filter((row) => row.patientId === patient.id);
    chartRows.set(patient.id, [...rows].sort(compareContacts));
  }
  const selfPlans = new Map<string, SelfAccountPlan>();
  for (const patient of patients) {
    const plan = planSelfAccount(patient, chartRows.get(patient.id) ?? [], policy, asOf);
    if (plan !== undefined) selfPlans.set(patient.id, plan);
  }
  const synthetic = new Set<Contact>();
  for (const plan of selfPlans.values()) if (plan.kind === 'account') synthetic.add(plan.contact);

  const groups = groupGuardians([...[...chartRows.values()].flat(), ...synthetic]);
  const { conflicts, conflicted } = findConflicts(groups, policy, synthetic);
  const byId = new Map(patients.map((p) => [p.id, p] as const));
  const base = (patient: Patient) => ({ patient, policy, asOf, patientAge: patientAge(patient, asOf) });

  const decisions: Decision[] = [];
  for (const group of groups) {
    for (const contact of group.rows) {
      const patient = byId.get(contact.patientId);
      if (patient === undefined) continue;
      decisions.push(decidePair({
        ...base(patient),
        contact,
        group,
        guardianKey: group.guardianKey,
        synthetic: synthetic.has(contact),
        themselves: isPatientThemselves(contact, patient),
        conflicted: conflicted.has(group.guardianKey),
      }));
    }
  }
  for (const patient of patients) {
    const plan = selfPlans.get(patient.id);
    if (plan?.kind !== 'hold') continue;
    decisions.push(decidePair({
      ...base(patient),
      contact: plan.contact,
      guardianKey: selfHoldKey(patient),
      synthetic: true,
      selfHold: plan.why,
      themselves: true,
      conflicted: false,
    }));
  }
  const sorted = sortDecisions(decisions);
  return { decisions: sorted, accounts: desiredAccounts(sorted, groups), conflicts };
}

/** By patientId, guardianKey, name-key, then the row's content and the rule (keys computed once per decision). */
function sortDecisions(decisions: readonly Decision[]): Decision[] {
  return decisions
    .map((d) => ({ d, nk: nameKey(d.contact.name) }))
    .sort((a, b) => compareText(a.d.patientId, b.d.patientId)
      || compareText(a.d.guardianKey, b.d.guardianKey)
      || compareText(a.nk, b.nk)
      || compareContacts(a.d.contact, b.d.contact)
      || compareText(a.d.rule, b.d.rule))
    .map((x) => x.d);
}
