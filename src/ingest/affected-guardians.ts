import { localDate } from '../core/age';
import { decide, type Decision } from '../core/eligibility';
import { emailKey } from '../core/identity';
import type { Contact, Snapshot } from '../core/model';
import type { Policy } from '../core/policy';
import type { StoreOps } from '../store';
import type { ApplyResult } from '../store/snapshots';

/**
 * The guardian keys whose desired state may have changed after `result` (DESIGN §2: the event only names keys).
 * Eligibility runs over the neighbourhood of every touched row, before and after, so keys come out exactly as
 * reconcile will compute them (grouping across charts, R14 self accounts); the ledger adds guardians linked to a
 * touched patient who are no longer on its chart (removed, merged, aged out).
 */
export async function affectedGuardians(tx: StoreOps, result: ApplyResult, policy: Policy, now: Date): Promise<{ keys: string[]; decisions: readonly Decision[] }> {
  if (result.patientIds.length === 0) return { keys: [], decisions: [] };
  const rows = [...rowsOf(result.before), ...rowsOf(result.after)];
  const neighbourhood = await tx.snapshots.loadNeighbourhood({
    patientIds: result.patientIds,
    contactIds: distinct(rows.map((c) => c.contactId)),
    emailKeys: distinct([...rows.map((c) => emailKey(c.email)), ...[...result.after.patients.values()].map((p) => emailKey(p.email))]),
  });
  const asOf = localDate(now.toISOString(), policy.timeZone);
  const { decisions } = decide(neighbourhood, policy, asOf);
  const keys = new Set(decisions.map((d) => d.guardianKey));
  for (const patientId of result.patientIds) {
    for (const link of await tx.ledger.listLinksOfPatient(patientId)) keys.add(link.guardianKey);
  }
  return { keys: [...keys].sort(), decisions };
}

function rowsOf(snapshot: Snapshot): Contact[] {
  return [...snapshot.contacts.values()].flat();
}

function distinct(values: readonly (string | undefined)[]): string[] {
  return [...new Set(values.filter((v): v is string => v !== undefined && v !== ''))];
}
