/** Result types of eligibility (DESIGN §4) and of the desired state built from it (DESIGN §5). */
import type { Contact, PersonName } from '../model';
import type { Outcome, RuleId } from './rules';

/** A warning that does not change the outcome (R13: looks like a duplicate contact). */
export interface DecisionWarning {
  readonly rule: 'R13';
  readonly reason: string;
}

/** Access a guardian gets to a dependent's record. */
export type AccessLevel = 'full' | 'limited';

/**
 * The decision for one (patient, contact row) pair: the winning outcome, the rule that produced it, and a
 * reason a front-desk person understands (no PHI beyond a masked email).
 */
export interface Decision {
  readonly patientId: string;
  /** The row decided; for an R14 self-account, a contact synthesised from the patient (relationship 'self'). */
  readonly contact: Contact;
  readonly guardianKey: string;
  readonly outcome: Outcome;
  readonly rule: RuleId;
  readonly reason: string;
  readonly warnings: readonly DecisionWarning[];
  /** Keep an existing link, create none (R03 inactive patient, and every hold). */
  readonly retain?: boolean;
}

/** A dependent the guardian's account should show. */
export interface DesiredDependent {
  readonly patientId: string;
  readonly accessLevel: AccessLevel;
}

/**
 * What one guardian's portal account should look like. Present when the guardian has at least one dependent or
 * one retained link. When `dependents` is empty (a retain-only entry) `email` may be '' and the plan never
 * creates or updates the account from it; it only keeps the retained links.
 */
export interface DesiredAccount {
  readonly guardianKey: string;
  readonly email: string;
  readonly name: PersonName;
  readonly cellPhone?: string;
  /** Sorted by patientId. */
  readonly dependents: readonly DesiredDependent[];
  /** Patient ids whose existing links must be kept but not created (R03, holds). Sorted. */
  readonly retain: readonly string[];
  /** False when every contributing row is staff-created (R17: a temporary password was given at the desk). */
  readonly welcome: boolean;
}

/** R12: one email-key entered for different people. Every list sorted. */
export interface Conflict {
  readonly emailKey: string;
  readonly guardianKeys: readonly string[];
  readonly patientIds: readonly string[];
}

/** Everything eligibility decided for a snapshot. */
export interface EligibilityResult {
  /** Sorted by patientId, then guardianKey, then name-key, then the row's content. */
  readonly decisions: readonly Decision[];
  /** Sorted by guardianKey. */
  readonly accounts: readonly DesiredAccount[];
  /** Sorted by emailKey. */
  readonly conflicts: readonly Conflict[];
}
