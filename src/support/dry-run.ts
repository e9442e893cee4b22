/**
 * `replay --dry-run` (DESIGN §6): the ops reconcile would run for a key now, without running them. The same steps
 * as reconcileGuardian — load the neighbourhood, decide, observe, plan — except that the account is observed
 * from the LEDGER ONLY: a dry run never calls the portal, and writes nothing (the ledger is not refreshed, no
 * audit row, no trigger consumed). Where the portal could answer differently, `notes` says so.
 */
import { plan, type ObservedAccount, type Op } from '../core/plan';
import type { Policy } from '../core/policy';
import { loadGuardianState } from '../reconcile/guardian-state';
import { unlinksAllowed, type UnlinkGuard } from '../reconcile/unlink-guard';
import type { Store, StoreOps } from '../store';
import type { AccountRecord, LinkRecord } from '../store/ledger';

export interface DryRunDeps {
  /** Read from only. */
  readonly store: Store;
  readonly policy: Policy;
  readonly now: Date;
  /** The mass-unlink guard in force (config `guards`): reported as a hold when it would stop the unlinks. */
  readonly guard?: UnlinkGuard;
}

/** Something reconcile would not do without a person, with its rule and a staff-safe reason (masked email at most). */
export interface DryRunHold {
  readonly rule: string;
  readonly reason: string;
  readonly patientId?: string;
}

export interface DryRunPlan {
  readonly key: string;
  readonly ops: readonly Op[];
  readonly holds: readonly DryRunHold[];
  /** Set when reconcile would hand this guardian's ledger over to another key (same person) instead of planning. */
  readonly handOverTo?: string;
  readonly notes: readonly string[];
}

/** Plans `key` as reconcile would now, from the store alone. Reads only. */
export async function planDryRun(deps: DryRunDeps, key: string): Promise<DryRunPlan> {
  const { store, now } = deps;
  const { ledger, links, result, desired, successor, pendingTriggers: pending } = await loadGuardianState(store, key, deps.policy, now);
  if (successor !== undefined) {
    return { key, ops: [], holds: [], handOverTo: successor.guardianKey, notes: ['the same person now has another key: the ledger would move there and that key be reconciled'] };
  }

  const observed = ledger === undefined ? undefined : await fromLedger(store, ledger, links);
  const planned = plan({
    desired: desired === undefined ? [] : [desired],
    observed: observed === undefined ? [] : [observed],
    triggers: pending.map((trigger) => ({ guardianKey: key, trigger })),
  });

  const holds: DryRunHold[] = [
    ...result.decisions
      .filter((d) => d.guardianKey === key && (d.outcome === 'hold' || d.outcome === 'conflict'))
      .map((d) => ({ rule: d.rule, reason: d.outcome === 'conflict' ? `conflict: ${d.reason}` : d.reason, patientId: d.patientId })),
    ...planned.holds.map((h) => ({ rule: h.rule, reason: h.reason })),
  ];
  const unlinks = planned.ops.filter((op) => op.kind === 'unlink').length;
  if (deps.guard !== undefined && !(await unlinksAllowed(store, deps.guard, unlinks, now))) {
    holds.push({ rule: 'GUARD', reason: `the mass-unlink guard would hold ${unlinks} unlink(s) (and the disable) for a person to check` });
  }
  const notes = [
    ledger === undefined
      ? 'observed from the ledger only, which knows no account: if the portal already holds one (made at the desk, or created before a crash), reconcile adopts it instead of creating one'
      : 'observed from the ledger only: the portal was not asked (a first login or a change made on the portal since the last run may change the plan)',
  ];
  return { key, ops: planned.ops, holds, notes };
}

/** The plan's view of the account as the ledger records it (reconcile refreshes this from the portal). */
async function fromLedger(store: StoreOps, ledger: AccountRecord, links: readonly LinkRecord[]): Promise<ObservedAccount> {
  const sent = (await store.ledger.listInvitations(ledger.guardianKey)).filter((i) => i.status === 'sent').map((i) => i.trigger);
  return {
    guardianKey: ledger.guardianKey,
    ...(ledger.portalId !== undefined && { portalId: ledger.portalId }),
    email: ledger.email,
    ...(ledger.name !== undefined && { name: ledger.name }),
    ...(ledger.cellPhone !== undefined && { cellPhone: ledger.cellPhone }),
    status: ledger.status,
    createdBy: ledger.createdBy,
    dependents: links.filter((l) => l.status === 'linked').map((l) => ({ patientId: l.patientId, accessLevel: l.accessLevel })),
    welcomesSent: sent,
  };
}
