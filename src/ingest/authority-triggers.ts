import type { Decision } from '../core/eligibility';
import type { Snapshot } from '../core/model';
import type { Policy } from '../core/policy';
import { sameRow } from '../core/snapshot';

/**
 * Welcome triggers from authority changes (DESIGN §5): when `policy.resendOn` lists `authority-change`, a contact
 * row whose authority changed to an eligible one (joint ↔ exclusive, or back to eligible) yields
 * `authority:<inbox id>` for that row's guardian. A message repeating the same authority yields nothing. Reconcile
 * sends the welcome only while the account is still invited. Pure.
 */
export function authorityTriggers(before: Snapshot, after: Snapshot, decisions: readonly Decision[], policy: Policy, inboxId: number): { guardianKey: string; trigger: string }[] {
  if (!policy.resendOn.includes('authority-change')) return [];
  const out = new Map<string, string>();
  for (const [patientId, rows] of after.contacts) {
    const previous = before.contacts.get(patientId) ?? [];
    for (const row of rows) {
      if (!policy.eligibleAuthorities.includes(row.authority)) continue;
      const was = previous.find((p) => sameRow(p, row));
      if (was === undefined || was.authority === row.authority) continue;
      const decision = decisions.find((d) => d.patientId === patientId && sameRow(d.contact, row));
      if (decision !== undefined) out.set(decision.guardianKey, `authority:${inboxId}`);
    }
  }
  return [...out].map(([guardianKey, trigger]) => ({ guardianKey, trigger }));
}
