import { localDate } from '../core/age';
import { decide } from '../core/eligibility';
import type { Policy } from '../core/policy';
import type { Store } from '../store';

const PAGE = 500;

/**
 * The daily re-evaluation (DESIGN §10 schedules): queues every guardian the ledger knows and every guardian the
 * current snapshot yields, so that what depends on the date alone — a patient reaching the age limit (R14), an
 * adolescent range (R15), a contact turning 18 (R08) — happens without a new message. Reconcile is level-based,
 * so queuing a converged guardian costs a read and changes nothing. Returns the number of keys queued.
 */
export async function enqueueReevaluation(deps: { store: Store; policy: Policy; now: () => Date }): Promise<number> {
  const { store } = deps;
  const now = deps.now();
  const asOf = localDate(now.toISOString(), deps.policy.timeZone);
  let queued = 0;
  for (let offset = 0; ; offset += PAGE) {
    const accounts = await store.ledger.listAccounts({ limit: PAGE, offset });
    await store.jobs.enqueue(accounts.map((a) => a.guardianKey), { now });
    queued += accounts.length;
    if (accounts.length < PAGE) break;
  }
  let after: string | undefined;
  for (;;) {
    const ids = await store.snapshots.listPatientIds({ ...(after !== undefined && { after }), limit: PAGE });
    if (ids.length === 0) break;
    const keys = new Set(decide(await store.snapshots.loadNeighbourhood({ patientIds: ids }), deps.policy, asOf).decisions.map((d) => d.guardianKey));
    await store.jobs.enqueue([...keys], { now });
    queued += keys.size;
    after = ids[ids.length - 1];
  }
  return queued;
}
