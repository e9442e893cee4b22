/** The sandbox's accounts and links tables (synchronous better-sqlite3 statements). */
import type { SandboxDb } from '../db';

/** An account's status on the portal. */
export type AccountStatus = 'invited' | 'active' | 'disabled';

/** One accounts row. `version` counts changes to the account's own fields and status (not its links). */
export interface AccountRow {
  id: string;
  external_id: string;
  email: string;
  email_key: string;
  given_name: string;
  family_name: string;
  cell_phone: string | null;
  status: AccountStatus;
  created_by: 'bridge' | 'staff';
  version: number;
  activated_at: string | null;
  created_at: string;
  updated_at: string;
}

/** One links row: a dependent linked to an account; `pending` until the account holder's next login. */
export interface LinkRow {
  account_id: string;
  patient_id: string;
  access_level: 'full' | 'limited';
  status: 'active' | 'pending';
  given_name: string;
  family_name: string;
  birth_date: string | null;
  created_at: string;
  updated_at: string;
}

const ACCOUNT_COLUMNS = 'id, external_id, email, email_key, given_name, family_name, cell_phone, status, created_by, version, activated_at, created_at, updated_at';
const LINK_COLUMNS = 'account_id, patient_id, access_level, status, given_name, family_name, birth_date, created_at, updated_at';

/** Reads and writes accounts and their links. Callers run writes inside a transaction. */
export class AccountStore {
  private readonly byIdStmt;
  private readonly byExternalIdStmt;
  private readonly byEmailKeyStmt;
  private readonly insertStmt;
  private readonly updateStmt;
  private readonly linksStmt;
  private readonly linkStmt;
  private readonly upsertLinkStmt;
  private readonly deleteLinkStmt;
  private readonly activateLinksStmt;

  constructor(db: SandboxDb) {
    this.byIdStmt = db.prepare(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = ?`);
    this.byExternalIdStmt = db.prepare(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE external_id = ?`);
    this.byEmailKeyStmt = db.prepare(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE email_key = ?`);
    this.insertStmt = db.prepare(
      `INSERT INTO accounts (${ACCOUNT_COLUMNS}) VALUES (@id, @external_id, @email, @email_key, @given_name, @family_name, @cell_phone, @status, @created_by, @version, @activated_at, @created_at, @updated_at)`,
    );
    this.updateStmt = db.prepare(
      'UPDATE accounts SET email = @email, email_key = @email_key, given_name = @given_name, family_name = @family_name, cell_phone = @cell_phone, status = @status, version = @version, activated_at = @activated_at, updated_at = @updated_at WHERE id = @id',
    );
    this.linksStmt = db.prepare(`SELECT ${LINK_COLUMNS} FROM links WHERE account_id = ? ORDER BY patient_id`);
    this.linkStmt = db.prepare(`SELECT ${LINK_COLUMNS} FROM links WHERE account_id = ? AND patient_id = ?`);
    this.upsertLinkStmt = db.prepare(
      `INSERT INTO links (${LINK_COLUMNS}) VALUES (@account_id, @patient_id, @access_level, @status, @given_name, @family_name, @birth_date, @created_at, @updated_at)
       ON CONFLICT (account_id, patient_id) DO UPDATE SET access_level = excluded.access_level, given_name = excluded.given_name,
         family_name = excluded.family_name, birth_date = excluded.birth_date, updated_at = excluded.updated_at`,
    );
    this.deleteLinkStmt = db.prepare('DELETE FROM links WHERE account_id = ? AND patient_id = ?');
    this.activateLinksStmt = db.prepare("UPDATE links SET status = 'active', updated_at = ? WHERE account_id = ? AND status = 'pending'");
  }

  byId(id: string): AccountRow | undefined {
    return this.byIdStmt.get(id) as AccountRow | undefined;
  }

  byExternalId(externalId: string): AccountRow | undefined {
    return this.byExternalIdStmt.get(externalId) as AccountRow | undefined;
  }

  /** By the lower-cased, trimmed email. */
  byEmailKey(emailKey: string): AccountRow | undefined {
    return this.byEmailKeyStmt.get(emailKey) as AccountRow | undefined;
  }

  insert(row: AccountRow): void {
    this.insertStmt.run(row);
  }

  /** Writes every mutable field of `row` (by id). */
  update(row: AccountRow): void {
    this.updateStmt.run({ ...row });
  }

  links(accountId: string): LinkRow[] {
    return this.linksStmt.all(accountId) as LinkRow[];
  }

  link(accountId: string, patientId: string): LinkRow | undefined {
    return this.linkStmt.get(accountId, patientId) as LinkRow | undefined;
  }

  /** Inserts a link, or updates its level and patient data (keeping its status and creation time). */
  upsertLink(row: LinkRow): void {
    this.upsertLinkStmt.run(row);
  }

  deleteLink(accountId: string, patientId: string): void {
    this.deleteLinkStmt.run(accountId, patientId);
  }

  /** Marks every pending link of the account active (the holder confirmed the birth dates at login). */
  activateLinks(accountId: string, at: string): void {
    this.activateLinksStmt.run(at, accountId);
  }
}
