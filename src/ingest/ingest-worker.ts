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

/** Rows per transaction: each commit costs an fsync (SQLite, synchronous FULL) or a round trip (PostgreSQL). */
const ROWS_PER_TRANSACTION = 20;

/**
 * Processes up to `limit` received inbox rows, oldest first (DESIGN §2): mapping → snapshot upsert → enqueue
 * reconcile for every guardian whose desired state may have changed. Rows are written in order, up to
 * ROWS_PER_TRANSACTION per transaction, each with its own snapshot write, outcome, triggers and job keys; a row's
 * writes always commit together with its outcome, so a crash leaves the row `received` and it is simply done
 * again. A row the mapping rejects is kept as `rejected` with its reason (in the same transaction as its
 * neighbours). Returns the number of rows processed.
 */
export async function ingestBatch(deps: IngestDeps, limit = 50): Promise<number> {
  const rows = await deps.store.inbox.nextUnprocessed(limit);
  for (let i = 0; i < rows.length; i += ROWS_PER_TRANSACTION) await ingestRows(deps, rows.slice(i, i + ROWS_PER_TRANSACTION));
  return rows.length;
}

type Translated = ReturnType<typeof translateInput>;
type Item =
  | { readonly row: InboxRow; readonly translated: Translated }
  | { readonly row: InboxRow; readonly rejected: { readonly code: string; readonly error: string; readonly unexpected?: unknown } };

function translateRow(deps: IngestDeps, row: InboxRow): Item {
  try {
    return { row, translated: translateInput(row.format, row.raw, deps.mappings) };
  } catch (e) {
    if (isBridgeError(e)) return { row, rejected: { code: e.code, error: e.message } };
    return { row, rejected: { code: 'ERR_INPUT_UNREADABLE', error: 'the input could not be translated', unexpected: e } };
  }
}

async function ingestRows(deps: IngestDeps, rows: readonly InboxRow[]): Promise<void> {
  const { store, log } = deps;
  // Translation is pure: done before the transaction, which then holds only database work.
  const items = rows.map((row) => translateRow(deps, row));
  const jobs = await store.transaction(async (tx) => {
    const out: number[] = [];
    for (const item of items) {
      const now = deps.now();
      if ('rejected' in item) {
        await tx.inbox.markProcessed(item.row.id, { status: 'rejected', errorCode: item.rejected.code, error: item.rejected.error }, { now });
        out.push(0);
        continue;
      }
      const { row, translated } = item;
      const result = await tx.snapshots.applySnapshotOps(translated.ops, row.id, { now });
      const affected = await affectedGuardians(tx, result, deps.policy, now);
      await tx.welcomeTriggers.addWelcomeTriggers(authorityTriggers(result.before, result.after, affected.decisions, deps.policy, row.id), { now });
      await tx.jobs.enqueue(affected.keys, { now, triggerInboxId: row.id });
      await tx.inbox.markProcessed(row.id, { status: translated.ignored ? 'ignored' : 'accepted', warnings: translated.warnings }, { now });
      out.push(affected.keys.length);
    }
    return out;
  });
  items.forEach((item, i) => {
    const { row } = item;
    if ('rejected' in item) {
      log.warn('inbox row rejected', { inboxId: row.id, source: row.source, code: item.rejected.code });
      if (item.rejected.unexpected !== undefined) log.error('translation failed unexpectedly', { inboxId: row.id, err: item.rejected.unexpected });
      return;
    }
    log.info('inbox row processed', { inboxId: row.id, source: row.source, ops: item.translated.ops.length, jobs: jobs[i] ?? 0 });
  });
}
