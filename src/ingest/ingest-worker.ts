import type { Policy } from '../core/policy';
import { isBridgeError } from '../errors';
import type { Logger } from '../log';
import type { Store } from '../store';
import type { InboxRow } from '../store/inbox';
import { affectedGuardians } from './affected-guardians';
import { authorityTriggers } from './authority-triggers';
import { translateInput, type Mappings } from './translate-input';

export interface IngestDeps {
  readonly store: Store;
  readonly mappings: Mappings;
  /** The policy that decides who is affected (the HL7 mapping's, else the FHIR one's). */
  readonly policy: Policy;
  readonly now: () => Date;
  readonly log: Logger;
}

/**
 * Processes up to `limit` received inbox rows, oldest first (DESIGN §2): mapping → snapshot upsert → enqueue
 * reconcile for every guardian whose desired state may have changed. Each row's snapshot write, its outcome and
 * its job keys commit in one transaction, so a crash leaves the row `received` and it is simply done again.
 * A row the mapping rejects is kept as `rejected` with its reason. Returns the number of rows processed.
 */
export async function ingestBatch(deps: IngestDeps, limit = 50): Promise<number> {
  const rows = await deps.store.inbox.nextUnprocessed(limit);
  for (const row of rows) await ingestRow(deps, row);
  return rows.length;
}

async function ingestRow(deps: IngestDeps, row: InboxRow): Promise<void> {
  const { store, log } = deps;
  let translated;
  try {
    translated = translateInput(row.format, row.raw, deps.mappings);
  } catch (e) {
    const code = isBridgeError(e) ? e.code : 'ERR_INPUT_UNREADABLE';
    const error = isBridgeError(e) ? e.message : 'the input could not be translated';
    await store.inbox.markProcessed(row.id, { status: 'rejected', errorCode: code, error }, { now: deps.now() });
    log.warn('inbox row rejected', { inboxId: row.id, source: row.source, code });
    if (!isBridgeError(e)) log.error('translation failed unexpectedly', { inboxId: row.id, err: e });
    return;
  }
  const now = deps.now();
  const keys = await store.transaction(async (tx) => {
    const result = await tx.snapshots.applySnapshotOps(translated.ops, row.id, { now });
    const affected = await affectedGuardians(tx, result, deps.policy, now);
    await tx.welcomeTriggers.addWelcomeTriggers(authorityTriggers(result.before, result.after, affected.decisions, deps.policy, row.id), { now });
    await tx.jobs.enqueue(affected.keys, { now, triggerInboxId: row.id });
    await tx.inbox.markProcessed(row.id, { status: translated.ignored ? 'ignored' : 'accepted', warnings: translated.warnings }, { now });
    return affected.keys;
  });
  log.info('inbox row processed', { inboxId: row.id, source: row.source, ops: translated.ops.length, jobs: keys.length });
}
