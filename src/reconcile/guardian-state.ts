import { localDate } from '../core/age';
import { decide, type DesiredAccount, type EligibilityResult } from '../core/eligibility';
import type { Snapshot } from '../core/model';
import type { Policy } from '../core/policy';
import type { StoreOps } from '../store';
import type { AccountRecord, LinkRecord } from '../store/ledger';
import { sameLogin } from './observe';
import { seedFor } from './seed';

/** Everything reconcile (and its dry run) reads about one guardian before asking the portal anything. */
export interface GuardianState {
  readonly ledger?: AccountRecord;
  readonly links: readonly LinkRecord[];
  readonly neighbourhood: Snapshot;
  readonly result: EligibilityResult;
  readonly desired?: DesiredAccount;
  /**
   * The same person under another key (a contact id arrived, charts regrouped), when this key's ledger account
   * has no desired account any more and the other key has none yet: the ledger moves there, nothing is unlinked.
   */
  readonly successor?: DesiredAccount;
  /** Welcome triggers to answer: pending ones, plus welcomes claimed earlier but never confirmed sent. */
  readonly pendingTriggers: readonly string[];
}

/** Loads the neighbourhood, decides, and finds the desired account, hand-over and pending triggers. Reads only. */
export async function loadGuardianState(store: StoreOps, key: string, policy: Policy, now: Date): Promise<GuardianState> {
  const ledger = await store.ledger.getAccount(key);
  const links = ledger === undefined ? [] : await store.ledger.listLinks(key);
  const neighbourhood = await store.snapshots.loadNeighbourhood(seedFor(key, ledger, links));
  const result = decide(neighbourhood, policy, localDate(now.toISOString(), policy.timeZone));
  const desired = result.accounts.find((a) => a.guardianKey === key);
  let successor: DesiredAccount | undefined;
  if (ledger !== undefined && (desired === undefined || desired.dependents.length === 0)) {
    const candidate = result.accounts.find((a) => a.guardianKey !== key && a.dependents.length > 0 && sameLogin(a, ledger));
    if (candidate !== undefined && (await store.ledger.getAccount(candidate.guardianKey)) === undefined) successor = candidate;
  }
  // A welcome claimed but not confirmed (e.g. the email was updated, then the welcome's call failed) is still owed,
  // although the next plan sees no email difference any more.
  const unsent = (await store.ledger.listInvitations(key)).filter((i) => i.status !== 'sent').map((i) => i.trigger);
  const pendingTriggers = [...new Set([...(await store.welcomeTriggers.listWelcomeTriggers(key)), ...unsent])];
  return {
    ...(ledger !== undefined && { ledger }),
    links,
    neighbourhood,
    result,
    ...(desired !== undefined && { desired }),
    ...(successor !== undefined && { successor }),
    pendingTriggers,
  };
}
