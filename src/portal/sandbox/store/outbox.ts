/** The outbox: every welcome the sandbox "sent", one row per accepted (not replayed) invitation. */
import type { SandboxDb } from '../db';

/** One welcome sent, as `GET /v1/_outbox` lists it. */
export interface OutboxItem {
  readonly invitationId: string;
  readonly accountId: string;
  readonly externalId: string;
  readonly email: string;
  readonly trigger: string;
  readonly channel: string;
  readonly method: string;
  readonly at: string;
}

/** Appends to and lists the outbox. */
export class Outbox {
  private readonly insertStmt;
  private readonly allStmt;
  private readonly byAccountStmt;

  constructor(db: SandboxDb) {
    const columns = 'invitation_id AS invitationId, account_id AS accountId, external_id AS externalId, email, trigger, channel, method, at';
    this.insertStmt = db.prepare(
      'INSERT INTO outbox (invitation_id, account_id, external_id, email, trigger, channel, method, at) VALUES (@invitationId, @accountId, @externalId, @email, @trigger, @channel, @method, @at)',
    );
    this.allStmt = db.prepare(`SELECT ${columns} FROM outbox ORDER BY seq`);
    this.byAccountStmt = db.prepare(`SELECT ${columns} FROM outbox WHERE account_id = ? ORDER BY seq`);
  }

  add(item: OutboxItem): void {
    this.insertStmt.run(item);
  }

  /** Every welcome sent, oldest first; only one account's when `accountId` is given. */
  list(accountId?: string): OutboxItem[] {
    return (accountId === undefined ? this.allStmt.all() : this.byAccountStmt.all(accountId)) as OutboxItem[];
  }
}
