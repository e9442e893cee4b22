/**
 * plan(desired, observed) → ops (DESIGN §5). Pure and level-based: it compares what should be with what is, so a
 * plan of a converged state is empty and re-planning after the ops ran is empty too.
 */
import type { DesiredAccount } from './eligibility/types';
import { compareText, emailKey, maskEmail } from './identity';
import type { PersonName } from './model';
import type { ObservedAccount, Op, Plan, PlanHold, PlanInput } from './plan/types';

export { applyOps } from './plan/apply';
export type {
  AccountStatus, ObservedAccount, ObservedDependent, Op, OpKind, Plan, PlanHold, PlanInput, WelcomeTrigger,
} from './plan/types';
export { ACCOUNT_STATUSES, OP_KINDS } from './plan/types';

/**
 * The ops that bring the portal to the desired state, grouped by guardianKey (sorted), and within one guardian:
 * create or update, links (by patientId), unlinks (by patientId), disable, then at most one welcome.
 *
 * - Desired with dependents and nothing observed → create-account, links, welcome `created` (unless
 *   `welcome` is false: R17 staff-created).
 * - Observed, desired with dependents: `update-account` for a changed name or cell phone (a cell phone is never
 *   cleared), `enable` for a disabled account; a changed email-key is updated only while the account is `invited`
 *   (with welcome `email:<new email-key>`); on an `active` or `disabled` account (which may have been activated)
 *   the email is left alone and an R19 hold is reported. Links for missing dependents or a different level.
 * - Every observed dependent neither desired nor retained → unlink. No desired dependent and no retained link left
 *   → unlink all and disable-account (never delete); an already disabled account is left as is.
 * - Welcomes go only to `invited` accounts created by the bridge whose desired `welcome` is true, once per
 *   trigger (never when the trigger is in `welcomesSent`). `created` (also when an earlier run created the
 *   account but never recorded the welcome), `email:<key>` and the extra `triggers` pending at the same time are
 *   answered by one welcome: the first as `trigger`, the rest in `covers`.
 */
export function plan(input: PlanInput): Plan {
  const desired = new Map(input.desired.map((d) => [d.guardianKey, d] as const));
  const observed = new Map(input.observed.map((o) => [o.guardianKey, o] as const));
  const triggers = new Map<string, string[]>();
  for (const t of input.triggers ?? []) triggers.set(t.guardianKey, [...(triggers.get(t.guardianKey) ?? []), t.trigger]);
  const keys = [...new Set([...desired.keys(), ...observed.keys()])].sort(compareText);
  const ops: Op[] = [];
  const holds: PlanHold[] = [];
  for (const key of keys) {
    const step = planAccount(key, desired.get(key), observed.get(key), triggers.get(key) ?? []);
    ops.push(...step.ops);
    holds.push(...step.holds);
  }
  return { ops, holds };
}

function planAccount(key: string, want: DesiredAccount | undefined, have: ObservedAccount | undefined, extra: readonly string[]): Plan {
  const dependents = [...(want?.dependents ?? [])].sort((a, b) => compareText(a.patientId, b.patientId));
  if (have === undefined) {
    if (want === undefined || dependents.length === 0) return { ops: [], holds: [] };
    const create: Op = { kind: 'create-account', guardianKey: key, email: want.email, name: want.name, ...(want.cellPhone !== undefined ? { cellPhone: want.cellPhone } : {}) };
    const links: Op[] = dependents.map((d) => ({ kind: 'link', guardianKey: key, patientId: d.patientId, accessLevel: d.accessLevel }));
    const welcome = want.welcome ? welcomeOp(key, ['created', ...extra], []) : [];
    return { ops: [create, ...links, ...welcome], holds: [] };
  }
  const ops: Op[] = [];
  const holds: PlanHold[] = [];
  const wanted = new Set(dependents.map((d) => d.patientId));
  const retained = new Set(want?.retain ?? []);
  const linked = new Map(have.dependents.map((d) => [d.patientId, d.accessLevel] as const));
  let emailTrigger: string | undefined;
  if (want !== undefined && dependents.length > 0) {
    const newKey = emailKey(want.email);
    const emailChanged = newKey !== emailKey(have.email);
    if (emailChanged && have.status !== 'invited') holds.push(emailHold(key, have, want));
    if (emailChanged && have.status === 'invited' && newKey !== undefined) emailTrigger = `email:${newKey}`;
    const update = {
      ...(have.status === 'disabled' ? { enable: true as const } : {}),
      ...(emailTrigger !== undefined ? { email: want.email } : {}),
      ...(have.name === undefined || !sameName(have.name, want.name) ? { name: want.name } : {}),
      ...(want.cellPhone !== undefined && want.cellPhone !== have.cellPhone ? { cellPhone: want.cellPhone } : {}),
    };
    if (Object.keys(update).length > 0) ops.push({ kind: 'update-account', guardianKey: key, ...update });
    for (const d of dependents) {
      if (linked.get(d.patientId) !== d.accessLevel) ops.push({ kind: 'link', guardianKey: key, patientId: d.patientId, accessLevel: d.accessLevel });
    }
  }
  const linkedIds = [...linked.keys()].sort(compareText);
  for (const patientId of linkedIds) {
    if (!wanted.has(patientId) && !retained.has(patientId)) ops.push({ kind: 'unlink', guardianKey: key, patientId });
  }
  const keepsLinks = linkedIds.some((id) => wanted.has(id) || retained.has(id));
  if (dependents.length === 0 && !keepsLinks && have.status !== 'disabled') ops.push({ kind: 'disable-account', guardianKey: key });
  if (want !== undefined && dependents.length > 0 && want.welcome && have.status === 'invited' && have.createdBy === 'bridge') {
    ops.push(...welcomeOp(key, ['created', ...(emailTrigger !== undefined ? [emailTrigger] : []), ...extra], have.welcomesSent));
  }
  return { ops, holds };
}

/** At most one welcome answering every pending trigger; `created` first, then `email:…`, then the rest sorted. */
function welcomeOp(key: string, candidates: readonly string[], sent: readonly string[]): Op[] {
  const [first, ...rest] = candidates;
  const pending = [...new Set([first ?? '', ...[...rest].sort(compareText)])].filter((t) => t !== '' && !sent.includes(t));
  const primary = pending.find((t) => t === 'created') ?? pending.find((t) => t.startsWith('email:')) ?? pending[0];
  if (primary === undefined) return [];
  const covers = pending.filter((t) => t !== primary).sort(compareText);
  return [{ kind: 'send-welcome', guardianKey: key, trigger: primary, ...(covers.length > 0 ? { covers } : {}) }];
}

function emailHold(key: string, have: ObservedAccount, want: DesiredAccount): PlanHold {
  const state = have.status === 'active' ? 'an active account' : 'a disabled account (it may have been activated)';
  return {
    guardianKey: key,
    rule: 'R19',
    reason: `login email of ${state} changed (${maskEmail(have.email)} → ${maskEmail(want.email)}): confirm with the parent`,
  };
}

function sameName(a: PersonName, b: PersonName): boolean {
  return a.given === b.given && a.family === b.family;
}
