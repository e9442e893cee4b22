/**
 * The eligibility rule catalog (DESIGN §4): ids, outcomes, and the reasons staff read. Reasons hold no PHI
 * beyond a masked email (`j***@example.org`).
 */

/** Outcomes, highest precedence first: when several rules fire on a pair, the earliest outcome here wins. */
export const OUTCOMES = ['unlink', 'conflict', 'hold', 'skip', 'link-limited', 'provision'] as const;
/** What eligibility wants for one (patient, contact) pair. */
export type Outcome = (typeof OUTCOMES)[number];

/** Every eligibility rule id, in order (R16–R19 are plan concerns, see plan.ts). */
export const RULE_IDS = ['R01', 'R02', 'R03', 'R04', 'R05', 'R06', 'R07', 'R08', 'R09', 'R10', 'R11', 'R12', 'R13', 'R14', 'R15', 'R20'] as const;
/** An eligibility rule id. */
export type RuleId = (typeof RULE_IDS)[number];

/**
 * Every eligibility rule, one entry per RULE_IDS entry, in the same order. `outcomes` lists what the rule can
 * yield (the first is the usual one): R13 only warns, R14 unlinks guardians but provisions (or holds) the
 * patient's own account, R15 follows the practice policy, R20 links limited when the row is flagged so.
 * `reason` is a template: `{name}` placeholders are filled by `formatReason`.
 */
export const RULES = [
  { id: 'R01', outcomes: ['unlink'], reason: 'patient recorded as deceased' },
  { id: 'R02', outcomes: ['unlink'], reason: 'record merged into another chart' },
  { id: 'R03', outcomes: ['skip'], reason: 'patient inactive: existing portal access is kept, none is added' },
  { id: 'R04', outcomes: ['skip'], reason: 'authority is {authority}; only {allowed} grants access' },
  { id: 'R05', outcomes: ['skip'], reason: 'role is Self: add the parent as Other Relative with the same email' },
  { id: 'R06', outcomes: ['unlink'], reason: 'access restricted' },
  { id: 'R07', outcomes: ['skip'], reason: 'parent declined' },
  { id: 'R08', outcomes: ['hold'], reason: 'a portal guardian must be an adult' },
  { id: 'R09', outcomes: ['hold'], reason: 'no email on file' },
  { id: 'R10', outcomes: ['hold'], reason: 'email {email} is not valid' },
  { id: 'R11', outcomes: ['hold'], reason: 'passwordless login needs a cell phone' },
  { id: 'R12', outcomes: ['conflict'], reason: 'parents cannot share an email: {email} is also entered for another person' },
  { id: 'R13', outcomes: [], reason: 'looks like a duplicate contact: one person has {count} contact records' },
  { id: 'R14', outcomes: ['unlink', 'provision', 'hold'], reason: 'patient reached the age limit ({limit})' },
  { id: 'R15', outcomes: ['link-limited', 'hold', 'unlink'], reason: 'adolescent privacy policy ({policy})' },
  { id: 'R20', outcomes: ['provision', 'link-limited'], reason: 'eligible' },
] as const satisfies readonly { id: RuleId; outcomes: readonly Outcome[]; reason: string }[];

/** Reasons for the patient's own account under R14 (the patient reached the age limit). */
export const SELF_ACCOUNT_REASONS = {
  provision: 'patient reached the age limit ({limit}): own account at {email}',
  noEmail: 'patient reached the age limit ({limit}): no email of their own on file',
  sharedEmail: "patient reached the age limit ({limit}): their email {email} is also a parent's; enter their own",
} as const;

/** Fills `{name}` placeholders of a template; unknown placeholders stay as written. */
export function fillTemplate(template: string, values: Readonly<Record<string, string | number>>): string {
  return template.replace(/\{(\w+)\}/gu, (whole, name: string) => {
    const value = values[name];
    return value === undefined ? whole : String(value);
  });
}

/** The staff-facing reason of a rule with its placeholders filled. */
export function formatReason(id: RuleId, values: Readonly<Record<string, string | number>> = {}): string {
  const rule = RULES.find((r) => r.id === id);
  return rule === undefined ? id : fillTemplate(rule.reason, values);
}

/** Rank of an outcome: lower is stronger. */
export function outcomeRank(outcome: Outcome): number {
  return OUTCOMES.indexOf(outcome);
}
