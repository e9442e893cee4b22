import { decide, type EligibilityResult } from '../core/eligibility';
import type { Mapping } from '../core/mapping/types';
import type { InputOutcome, InputText } from './run-inputs';
import { runInputs } from './run-inputs';

/** The `mappings explain --json` object (issue #2): exactly these keys, stable order, for scripts. */
export interface ExplainJson {
  asOf: string;
  inputs: { file: string; index: number; controlId: string | null; status: 'accepted' | 'rejected'; error?: string }[];
  decisions: {
    patientId: string;
    contact: { givenName: string; familyName: string; relationship: string; authority: string; email: string | null };
    guardianKey: string;
    outcome: string;
    rule: string;
    reason: string;
  }[];
  accounts: { guardianKey: string; email: string; dependents: { patientId: string; accessLevel: string }[] }[];
  conflicts: { emailKey: string; guardianKeys: string[]; patientIds: string[] }[];
}

/** Everything `explain` and `test` need: per-input outcomes plus the eligibility result on the final snapshot. */
export interface Explanation {
  readonly asOf: string;
  readonly outcomes: readonly InputOutcome[];
  readonly result: EligibilityResult;
}

/** Runs inputs through mapping and eligibility on `asOf` (YYYY-MM-DD, practice time zone). Pure. */
export function explain(inputs: readonly InputText[], mapping: Mapping, asOf: string): Explanation {
  const { outcomes, snapshot } = runInputs(inputs, mapping);
  return { asOf, outcomes, result: decide(snapshot, mapping.policy, asOf) };
}

/** The JSON shape of an explanation. */
export function toJson(x: Explanation): ExplainJson {
  return {
    asOf: x.asOf,
    inputs: x.outcomes.map((o) => ({
      file: o.file,
      index: o.index,
      controlId: o.controlId ?? null,
      status: o.status,
      ...(o.error !== undefined && { error: o.error }),
    })),
    decisions: x.result.decisions.map((d) => ({
      patientId: d.patientId,
      contact: {
        givenName: d.contact.name.given,
        familyName: d.contact.name.family,
        relationship: d.contact.relationship,
        authority: d.contact.authority,
        email: d.contact.email ?? null,
      },
      guardianKey: d.guardianKey,
      outcome: d.outcome,
      rule: d.rule,
      reason: d.reason,
    })),
    // An entry with no dependents only keeps links that already exist (held or inactive): no account is wanted.
    accounts: x.result.accounts.filter((a) => a.dependents.length > 0).map((a) => ({
      guardianKey: a.guardianKey,
      email: a.email,
      dependents: a.dependents.map((dep) => ({ patientId: dep.patientId, accessLevel: dep.accessLevel })),
    })),
    conflicts: x.result.conflicts.map((c) => ({ emailKey: c.emailKey, guardianKeys: [...c.guardianKeys], patientIds: [...c.patientIds] })),
  };
}
