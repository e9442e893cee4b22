import type { Store } from '../store';

/** The mass-unlink guard's settings (config `guards`). */
export interface UnlinkGuard {
  readonly massUnlinkShare: number;
  readonly minLinks: number;
  readonly windowMinutes: number;
}

const RELEASE_CURSOR = 'unlink-guard-release';

/**
 * DESIGN §4 mass-removal guard: a run may unlink only while the unlinks done in the last `windowMinutes`, plus
 * its own, stay within `massUnlinkShare` of all current links — a bad feed (an empty contact list for every
 * patient, a mapping that lost the authority field) must not strip a practice's portal in one night. Practices
 * with fewer than `minLinks` links are never held. A person lifts the guard for a while with `releaseUnlinkGuard`.
 */
export async function unlinksAllowed(store: Store, guard: UnlinkGuard, unlinks: number, now: Date): Promise<boolean> {
  if (unlinks === 0) return true;
  const release = await store.cursors.getCursor(RELEASE_CURSOR);
  if (release !== undefined && Date.parse(release) > now.getTime()) return true;
  const linked = await store.ledger.countLinks('linked');
  if (linked < guard.minLinks) return true;
  const recent = await store.audit.countAuditOps({ op: 'unlink', since: new Date(now.getTime() - guard.windowMinutes * 60_000) });
  return recent + unlinks <= guard.massUnlinkShare * linked;
}

/** Lets unlinks through until `until` (staff checked the held runs); returns the keys of the held jobs requeued. */
export async function releaseUnlinkGuard(store: Store, until: Date, now: Date): Promise<string[]> {
  await store.cursors.setCursor(RELEASE_CURSOR, until.toISOString(), { now });
  const held: number[] = [];
  for (let offset = 0; ; offset += 500) {
    const page = await store.jobs.listFailed({ limit: 500, offset });
    held.push(...page.filter((j) => j.lastErrorCode === 'ERR_GUARD_MASS_UNLINK').map((j) => j.id));
    if (page.length < 500) break;
  }
  return held.length === 0 ? [] : store.jobs.requeue(held, { now });
}
