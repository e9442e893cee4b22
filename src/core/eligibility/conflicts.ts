/**
 * R12: "parents cannot share an email" (seed 000). Two guardian groups with the same email-key are different
 * people by construction (groupGuardians would have merged them otherwise), so both are in conflict.
 */
import { compareText, type GuardianGroup } from '../identity';
import type { Contact } from '../model';
import type { Policy } from '../policy';
import type { Conflict } from './types';

/**
 * The R12 conflicts among guardian groups. A group takes part when at least one of its rows could grant access:
 * authority in the policy's eligible set and a role other than Self (or the row is a synthesised R14
 * self-account). So a Self row or a no-authority row that shares a parent's email never blocks the parent.
 * Returns the conflicts (sorted by emailKey; keys and patient ids sorted) and the set of conflicted guardianKeys.
 */
export function findConflicts(
  groups: readonly GuardianGroup[],
  policy: Policy,
  synthetic: ReadonlySet<Contact>,
): { readonly conflicts: Conflict[]; readonly conflicted: ReadonlySet<string> } {
  const takesPart = (row: Contact): boolean =>
    synthetic.has(row) || (policy.eligibleAuthorities.includes(row.authority) && row.relationship !== 'self');
  const byEmail = new Map<string, GuardianGroup[]>();
  for (const group of groups) {
    if (group.emailKey === undefined || !group.rows.some(takesPart)) continue;
    byEmail.set(group.emailKey, [...(byEmail.get(group.emailKey) ?? []), group]);
  }
  const conflicts: Conflict[] = [];
  const conflicted = new Set<string>();
  for (const [emailKey, sharing] of byEmail) {
    if (sharing.length < 2) continue;
    for (const group of sharing) conflicted.add(group.guardianKey);
    conflicts.push({
      emailKey,
      guardianKeys: sharing.map((g) => g.guardianKey).sort(compareText),
      patientIds: [...new Set(sharing.flatMap((g) => g.rows.map((r) => r.patientId)))].sort(compareText),
    });
  }
  conflicts.sort((a, b) => compareText(a.emailKey, b.emailKey));
  return { conflicts, conflicted };
}
