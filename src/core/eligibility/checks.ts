/**
 * The rule checks for one (patient, contact row) pair, and the pick of the winning rule (DESIGN §4).
 * Patient-level rules read the patient; row-level rules read the row (authority, role, flags); guardian-level
 * rules read the guardian group, so that one person gets one answer for email, phone and age across charts.
 */
import { ageOn } from '../age';
import { isValidEmail, maskEmail, type GuardianGroup } from '../identity';
import type { Authority, Contact, Patient } from '../model';
import type { Policy } from '../policy';
import { formatReason, fillTemplate, outcomeRank, SELF_ACCOUNT_REASONS, type Outcome, type RuleId } from './rules';
import type { Decision, DecisionWarning } from './types';

/** Everything a check may read about one pair. */
export interface PairContext {
  readonly patient: Patient;
  readonly contact: Contact;
  /** The row's guardian; absent only for an R14 self-account hold (no email-key identifies it). */
  readonly group?: GuardianGroup;
  readonly guardianKey: string;
  readonly policy: Policy;
  readonly asOf: string;
  readonly patientAge: number | undefined;
  /** The row is the R14 self-account synthesised from the patient. */
  readonly synthetic: boolean;
  /** Set for an R14 self-account that cannot be provisioned. */
  readonly selfHold?: 'noEmail' | 'sharedEmail';
  /** The row is the patient themselves (see isPatientThemselves). */
  readonly themselves: boolean;
  /** The guardian's email-key is also used by a different guardian (R12). */
  readonly conflicted: boolean;
}

/** One rule that fired on a pair. */
export interface Fired {
  readonly rule: RuleId;
  readonly outcome: Outcome;
  readonly reason: string;
}

const AUTHORITY_WORDS = { joint: 'Joint', exclusive: 'Exclusive', none: 'None', unknown: 'Unknown' } as const satisfies Record<Authority, string>;
const E164 = /^\+[1-9]\d{6,14}$/u;

/** The rules that fire on a pair, in rule-id order. R20 always fires (provision, or link-limited when flagged). */
export function firedRules(ctx: PairContext): Fired[] {
  const { patient, contact, policy } = ctx;
  const fired: Fired[] = [];
  const fire = (rule: RuleId, outcome: Outcome, values: Record<string, string | number> = {}): void => {
    fired.push({ rule, outcome, reason: formatReason(rule, values) });
  };
  const limit = { limit: policy.minorAgeLimit };
  if (patient.deceased) fire('R01', 'unlink');
  if (patient.mergedInto !== undefined) fire('R02', 'unlink');
  if (!patient.active) fire('R03', 'skip');
  if (ctx.selfHold !== undefined) {
    const template = SELF_ACCOUNT_REASONS[ctx.selfHold];
    fired.push({ rule: 'R14', outcome: 'hold', reason: fillTemplate(template, { ...limit, email: maskEmail(contact.email) }) });
    return fired;
  }
  if (!ctx.synthetic && !policy.eligibleAuthorities.includes(contact.authority)) {
    const allowed = policy.eligibleAuthorities.map((a) => AUTHORITY_WORDS[a]).join(' or ');
    fire('R04', 'skip', { authority: AUTHORITY_WORDS[contact.authority], allowed: allowed === '' ? 'a configured authority' : allowed });
  }
  if (!ctx.synthetic && contact.relationship === 'self') fire('R05', 'skip');
  if (contact.flags.noAccess) fire('R06', 'unlink');
  if (contact.flags.declined) fire('R07', 'skip');
  const group = ctx.group;
  if (group !== undefined) {
    if (group.rows.some((row) => isMinor(row, ctx))) fire('R08', 'hold');
    if (group.email === undefined) fire('R09', 'hold');
    else if (!isValidEmail(group.email)) fire('R10', 'hold', { email: maskEmail(group.email) });
    if (policy.passwordless && !E164.test(group.cellPhone ?? '')) fire('R11', 'hold');
    if (ctx.conflicted) fire('R12', 'conflict', { email: maskEmail(group.email) });
  }
  const age = ctx.patientAge;
  if (age !== undefined && age >= policy.minorAgeLimit) {
    if (ctx.synthetic) {
      fired.push({ rule: 'R14', outcome: 'provision', reason: fillTemplate(SELF_ACCOUNT_REASONS.provision, { ...limit, email: maskEmail(contact.email) }) });
    } else if (!ctx.themselves) fire('R14', 'unlink', limit);
  }
  const teen = policy.adolescent;
  if (teen.enabled && age !== undefined && teen.fromAge <= age && age < policy.minorAgeLimit && !ctx.themselves) {
    fire('R15', teen.policy, { policy: teen.policy });
  }
  if (contact.flags.limitedAccess) {
    fired.push({ rule: 'R20', outcome: 'link-limited', reason: 'eligible, with limited access as flagged on the chart' });
  } else fire('R20', 'provision');
  return fired;
}

/** The winner: the strongest outcome, then the lowest rule id among rules with that outcome. */
export function pickWinner(fired: readonly Fired[]): Fired {
  let best: Fired | undefined;
  for (const f of fired) {
    if (best === undefined || outcomeRank(f.outcome) < outcomeRank(best.outcome)) best = f;
    else if (outcomeRank(f.outcome) === outcomeRank(best.outcome) && f.rule < best.rule) best = f;
  }
  if (best === undefined) throw new Error('firedRules always fires R20 or R14');
  return best;
}

/**
 * The decision for one pair. `retain` (keep an existing link, create none) is set for R03 (inactive patient) and
 * for every hold — a hold waits for staff and changes nothing — but never when the row itself denies access
 * (R04 authority, R05 Self role, R07 declined): those links go.
 */
export function decidePair(ctx: PairContext): Decision {
  const fired = firedRules(ctx);
  const winner = pickWinner(fired);
  const denied = fired.some((f) => f.rule === 'R04' || f.rule === 'R05' || f.rule === 'R07');
  const keeps = winner.outcome === 'hold' || (winner.outcome === 'skip' && fired.some((f) => f.rule === 'R03'));
  const warnings: DecisionWarning[] = ctx.group?.duplicateContactIds === true
    ? [{ rule: 'R13', reason: formatReason('R13', { count: new Set(ctx.group.rows.map((r) => r.contactId).filter((id) => id !== undefined)).size }) }]
    : [];
  return {
    patientId: ctx.patient.id,
    contact: ctx.contact,
    guardianKey: ctx.guardianKey,
    outcome: winner.outcome,
    rule: winner.rule,
    reason: winner.reason,
    warnings,
    ...(keeps && !denied ? { retain: true } : {}),
  };
}

function isMinor(row: Contact, ctx: PairContext): boolean {
  if (row.birthDate === undefined) return false;
  const age = ageOn(row.birthDate, ctx.asOf);
  return age !== undefined && age < ctx.policy.minorAgeLimit;
}
