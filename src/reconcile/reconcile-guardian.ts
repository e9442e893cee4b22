import type { Policy } from '../core/policy';
import { plan } from '../core/plan';
import type { Logger } from '../log';
import type { Refs } from '../refs';
import type { Invitation, PortalClient } from '../portal/port';
import type { Store, StoreOps } from '../store';
import { executeOp, type AccountCursor, type RecordedIntent } from './execute-op';
import { loadGuardianState } from './guardian-state';
import { observe } from './observe';
import { unlinksAllowed, type UnlinkGuard } from './unlink-guard';
import { BridgeError } from '../errors';

export interface ReconcileDeps {
  readonly store: Store;
  readonly portal: PortalClient;
  readonly policy: Policy;
  /** Goes into every idempotency key: two practices never share one. */
  readonly practice: string;
  readonly invitation: Pick<Invitation, 'channel' | 'method'>;
  readonly now: () => Date;
  readonly log: Logger;
  /** The mass-unlink guard; none in tests that do not exercise it. */
  readonly guard?: UnlinkGuard;
  /** Keyed refs for log lines (a guardian key embeds an email; never log it as is). */
  readonly refs?: Refs;
}

export interface ReconcileContext {
  readonly jobId?: number;
  readonly inboxId?: number;
  /** Runs in the run's last transaction when it succeeds (the job runner completes the job there). */
  readonly finish?: (tx: StoreOps) => Promise<void>;
}

export interface ReconcileOutcome {
  readonly ops: number;
  readonly holds: number;
  /** Set when the guardian now has another key: the ledger moved there and that key was queued. */
  readonly handedOverTo?: string;
}

/**
 * reconcile(key) (DESIGN §2, §5): load the guardian's neighbourhood → decide → observe (ledger + portal) → plan
 * → execute. Level-based: it works from current state only, so running it again, after a crash or for a
 * duplicate message, does nothing more than what is still missing. Throws the portal's BridgeErrors for the
 * retry policy (each op already recorded as failed).
 */
export async function reconcileGuardian(deps: ReconcileDeps, key: string, context: ReconcileContext = {}): Promise<ReconcileOutcome> {
  const { finish, ...provenance } = context;
  const { store } = deps;
  const now = deps.now();
  const { ledger, neighbourhood, result, desired, successor, pendingTriggers: pending } = await loadGuardianState(store, key, deps.policy, now);
  if (successor !== undefined) {
    await store.transaction(async (tx) => {
      await tx.ledger.rekeyAccount(key, successor.guardianKey, { now });
      await tx.jobs.enqueue([successor.guardianKey], { now });
      await tx.audit.appendAudit([{ at: now, actor: 'daemon', guardianKey: key, op: 'rekey', detail: { to: successor.guardianKey } }]);
      await finish?.(tx);
    });
    return { ops: 0, holds: 0, handedOverTo: successor.guardianKey };
  }

  const { observed, portal } = await observe(store, deps.portal, key, ledger, desired, now);
  const planned = plan({
    desired: desired === undefined ? [] : [desired],
    observed: observed === undefined ? [] : [observed],
    triggers: pending.map((trigger) => ({ guardianKey: key, trigger })),
  });
  const cursor: AccountCursor = portal === undefined ? {} : { account: portal };
  const unlinks = planned.ops.filter((op) => op.kind === 'unlink').length;
  const held = deps.guard !== undefined && !(await unlinksAllowed(store, deps.guard, unlinks, now));
  const runnable = planned.ops.filter((op) => !(held && (op.kind === 'unlink' || op.kind === 'disable-account')));
  const ctx = { store, portal: deps.portal, practice: deps.practice, invitation: deps.invitation, now: deps.now, snapshot: neighbourhood, ...provenance };
  // Each op's result transaction also records the next op's intent (execute-op.ts): one commit per op.
  let intent: RecordedIntent | undefined;
  for (const [i, op] of runnable.entries()) {
    intent = await executeOp(ctx, op, cursor, { ...(intent !== undefined && { intent }), ...(i + 1 < runnable.length && { next: runnable[i + 1] }) });
  }
  if (held) {
    await store.audit.appendAudit(planned.ops.filter((op) => op.kind === 'unlink').map((op) => ({ at: now, actor: 'daemon', guardianKey: key, patientId: op.patientId, rule: 'GUARD', op: 'hold', detail: { reason: 'mass-unlink guard' } })));
    throw new BridgeError('ERR_GUARD_MASS_UNLINK', `mass-unlink guard: ${unlinks} unlink(s) held for a person to check`);
  }

  // Triggers are answered by this run's welcome, or cannot be (the account is active, staff-made or gone): forget them.
  await store.welcomeTriggers.deleteWelcomeTriggers(key, pending);
  const mine = result.decisions.filter((d) => d.guardianKey === key);
  await store.transaction(async (tx) => {
    await tx.audit.appendAudit([
      ...mine.map((d) => ({ at: now, actor: 'daemon', guardianKey: key, patientId: d.patientId, rule: d.rule, op: `decide:${d.outcome}`, ...(provenance.inboxId !== undefined && { inboxId: provenance.inboxId }) })),
      ...planned.holds.map((h) => ({ at: now, actor: 'daemon', guardianKey: key, rule: h.rule, op: 'hold', detail: { reason: h.reason } })),
    ]);
    for (const c of result.conflicts.filter((c) => c.guardianKeys.includes(key))) await tx.conflicts.upsertConflict(c, { now });
    await finish?.(tx);
  });
  deps.log.info('guardian reconciled', { ops: planned.ops.length, holds: planned.holds.length, decisions: mine.length });
  return { ops: planned.ops.length, holds: planned.holds.length };
}
