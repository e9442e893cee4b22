/**
 * The changes feed (`GET /v1/changes`): one row per account creation and status change. Only the last
 * `retention` changes are kept; a cursor that points before them (or past the newest) answers 410.
 * Cursors are the decimal sequence number of the last change seen.
 */
import type { SandboxDb } from '../db';
import { ProblemError } from '../problem';
import type { AccountStatus } from './accounts';

/** One change as the feed returns it. */
export interface ChangeItem {
  readonly accountId: string;
  readonly externalId: string;
  readonly status: AccountStatus;
  readonly at: string;
}

/** The default number of changes kept. */
export const DEFAULT_CHANGES_RETENTION = 10_000;

interface ChangeRow extends ChangeItem {
  seq: number;
}

/** Records and pages the changes feed. */
export class ChangeFeed {
  private readonly insertStmt;
  private readonly pageStmt;
  private readonly headStmt;
  private readonly pruneStmt;
  private readonly readMetaStmt;
  private readonly writeMetaStmt;

  constructor(
    db: SandboxDb,
    private retention: number = DEFAULT_CHANGES_RETENTION,
  ) {
    this.insertStmt = db.prepare('INSERT INTO changes (account_id, external_id, status, at) VALUES (?, ?, ?, ?)');
    this.pageStmt = db.prepare('SELECT seq, account_id AS accountId, external_id AS externalId, status, at FROM changes WHERE seq > ? ORDER BY seq LIMIT ?');
    this.headStmt = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'changes'");
    this.pruneStmt = db.prepare('DELETE FROM changes WHERE seq <= ?');
    this.readMetaStmt = db.prepare("SELECT value FROM meta WHERE name = 'changes_pruned_through'");
    this.writeMetaStmt = db.prepare("INSERT INTO meta (name, value) VALUES ('changes_pruned_through', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value");
  }

  /** Appends a change and prunes beyond the retention. */
  record(item: ChangeItem): void {
    this.insertStmt.run(item.accountId, item.externalId, item.status, item.at);
    this.prune();
  }

  /** Keeps only the last `retention` changes from now on (prunes at once). */
  setRetention(retention: number): void {
    this.retention = retention;
    this.prune();
  }

  /** Up to `limit` changes after `since` (from the oldest kept when undefined). Throws ProblemError 400 / 410. */
  page(since: string | undefined, limit: number): { items: ChangeItem[]; nextCursor: string } {
    const head = this.head();
    const prunedThrough = this.prunedThrough();
    let after = prunedThrough;
    if (since !== undefined) {
      if (!/^\d{1,15}$/.test(since)) throw new ProblemError(400, 'invalid_cursor', 'The cursor is not one this portal issued.');
      after = Number(since);
      if (after < prunedThrough || after > head) {
        throw new ProblemError(410, 'cursor_expired', 'The cursor is older than the retained changes (or unknown): resync in full.');
      }
    }
    const rows = this.pageStmt.all(after, limit) as ChangeRow[];
    const last = rows[rows.length - 1];
    return { items: rows.map(({ accountId, externalId, status, at }) => ({ accountId, externalId, status, at })), nextCursor: String(last?.seq ?? after) };
  }

  private head(): number {
    return (this.headStmt.get() as { seq: number } | undefined)?.seq ?? 0;
  }

  private prunedThrough(): number {
    return Number((this.readMetaStmt.get() as { value: string } | undefined)?.value ?? 0);
  }

  private prune(): void {
    const through = this.head() - this.retention;
    if (through <= this.prunedThrough()) return;
    this.pruneStmt.run(through);
    this.writeMetaStmt.run(String(through));
  }
}
