/**
 * The ledger (DESIGN §5, §9): what we know we did on the portal. Accounts (guardianKey ↔ portal id), links,
 * welcomes (one per guardian and trigger, enforced by the database), and every side effect's intent (written
 * before the portal call) and result (after it).
 */
import type { PersonName } from '../core/model';
import type { Db } from './db';
import { fromJson, optionalNumber, optionalText, toDbTime, toJson } from './column-values';

export type AccountStatus = 'invited' | 'active' | 'disabled';
export type AccessLevel = 'full' | 'limited';
export type LinkStatus = 'pending' | 'linked' | 'unlinked';
export type InvitationStatus = 'pending' | 'sent' | 'failed';
export type SideEffectStatus = 'pending' | 'done' | 'failed';

export interface AccountRecord {
  readonly guardianKey: string;
  readonly portalId?: string;
  readonly email: string;
  readonly status: AccountStatus;
  readonly createdBy: 'bridge' | 'staff';
  readonly name?: PersonName;
  readonly cellPhone?: string;
  /** The portal's version (ETag) last seen. */
  readonly version?: string;
  readonly updatedAt: string;
}

export interface LinkRecord {
  readonly guardianKey: string;
  readonly patientId: string;
  readonly accessLevel: AccessLevel;
  readonly status: LinkStatus;
  readonly updatedAt: string;
}

export interface InvitationRecord {
  readonly idempotencyKey: string;
  readonly guardianKey: string;
  readonly trigger: string;
  readonly status: InvitationStatus;
  readonly portalInvitationId?: string;
  readonly createdAt: string;
  readonly sentAt?: string;
}

export interface SideEffectRecord {
  readonly idempotencyKey: string;
  readonly guardianKey: string;
  readonly op: string;
  readonly target: string;
  readonly status: SideEffectStatus;
  readonly portalStatus?: number;
  readonly errorCode?: string;
  readonly createdAt: string;
  readonly finishedAt?: string;
}

type At = { readonly now?: Date };
const timeOf = (options: At): string => toDbTime(options.now ?? new Date());

// ── accounts ─────────────────────────────────────────────────────────────────────────────────────────────────

export async function getAccount(db: Db, guardianKey: string): Promise<AccountRecord | undefined> {
  const row = await db('accounts').select('*').where({ guardian_key: guardianKey }).first();
  return row === undefined ? undefined : accountFromRow(row);
}

export async function getAccountByPortalId(db: Db, portalId: string): Promise<AccountRecord | undefined> {
  const row = await db('accounts').select('*').where({ portal_id: portalId }).first();
  return row === undefined ? undefined : accountFromRow(row);
}

/**
 * Writes the account as now known (insert or replace). A portal id already held by another key is refused.
 * With `keepKnown`, a name or cell phone not given keeps the stored one (one statement instead of read + write).
 */
export async function upsertAccount(db: Db, account: Omit<AccountRecord, 'updatedAt'>, options: At & { keepKnown?: boolean } = {}): Promise<void> {
  const row = {
    guardian_key: account.guardianKey,
    portal_id: account.portalId ?? null,
    email: account.email,
    status: account.status,
    created_by: account.createdBy,
    name: account.name === undefined ? null : toJson(account.name),
    cell_phone: account.cellPhone ?? null,
    version: account.version ?? null,
    updated_at: timeOf(options),
  };
  if (options.keepKnown !== true) {
    await db('accounts').insert(row).onConflict('guardian_key').merge();
    return;
  }
  await db('accounts')
    .insert(row)
    .onConflict('guardian_key')
    .merge({ ...row, name: db.raw('COALESCE(excluded.name, accounts.name)'), cell_phone: db.raw('COALESCE(excluded.cell_phone, accounts.cell_phone)') });
}

/**
 * Moves a guardian's ledger (account, links, welcomes, side effects) from `fromKey` to `toKey`: the same person
 * now has another guardian key (a contact id arrived, or charts regrouped). Welcomes sent under the old key stay
 * sent under the new one, so the person is never welcomed twice. Refused (false) when `toKey` already has an
 * account; run it inside a transaction.
 */
export async function rekeyAccount(db: Db, fromKey: string, toKey: string, options: At = {}): Promise<boolean> {
  if (fromKey === toKey) return false;
  if ((await db('accounts').where({ guardian_key: toKey }).first()) !== undefined) return false;
  const moved = await db('accounts').where({ guardian_key: fromKey }).update({ guardian_key: toKey, updated_at: timeOf(options) });
  if (moved === 0) return false;
  const existingLinks = new Set((await db('links').select('patient_id').where({ guardian_key: toKey })).map((r: { patient_id: string }) => r.patient_id));
  const links = await db('links').select('patient_id').where({ guardian_key: fromKey });
  for (const { patient_id } of links as { patient_id: string }[]) {
    if (existingLinks.has(patient_id)) await db('links').where({ guardian_key: fromKey, patient_id }).delete();
    else await db('links').where({ guardian_key: fromKey, patient_id }).update({ guardian_key: toKey });
  }
  const triggers = new Set((await db('invitations').select('trigger').where({ guardian_key: toKey })).map((r: { trigger: string }) => r.trigger));
  for (const { trigger } of (await db('invitations').select('trigger').where({ guardian_key: fromKey })) as { trigger: string }[]) {
    if (!triggers.has(trigger)) await db('invitations').where({ guardian_key: fromKey, trigger }).update({ guardian_key: toKey });
  }
  await db('side_effects').where({ guardian_key: fromKey }).update({ guardian_key: toKey });
  return true;
}

/** Sets an account's status (e.g. first login → active from the portal's changes feed). Returns whether it exists. */
export async function setAccountStatus(db: Db, guardianKey: string, status: AccountStatus, options: At = {}): Promise<boolean> {
  return (await db('accounts').where({ guardian_key: guardianKey }).update({ status, updated_at: timeOf(options) })) > 0;
}

export async function listAccounts(db: Db, page: { status?: AccountStatus; limit: number; offset?: number }): Promise<AccountRecord[]> {
  const q = db('accounts').select('*').orderBy('guardian_key').limit(page.limit).offset(page.offset ?? 0);
  if (page.status !== undefined) q.where({ status: page.status });
  return (await q).map(accountFromRow);
}

// ── links ────────────────────────────────────────────────────────────────────────────────────────────────────

export async function upsertLink(db: Db, link: Omit<LinkRecord, 'updatedAt'>, options: At = {}): Promise<void> {
  await db('links')
    .insert({ guardian_key: link.guardianKey, patient_id: link.patientId, access_level: link.accessLevel, status: link.status, updated_at: timeOf(options) })
    .onConflict(['guardian_key', 'patient_id'])
    .merge();
}

/** How many links have this status (all guardians). */
export async function countLinks(db: Db, status: LinkStatus): Promise<number> {
  const row = await db('links').where({ status }).count({ n: '*' }).first();
  return Number(row?.n ?? 0);
}

/** A guardian's links, by patient id. */
export async function listLinks(db: Db, guardianKey: string): Promise<LinkRecord[]> {
  return (await db('links').select('*').where({ guardian_key: guardianKey }).orderBy('patient_id')).map(linkFromRow);
}

/** Every guardian's link to one patient, by guardian key. */
export async function listLinksOfPatient(db: Db, patientId: string): Promise<LinkRecord[]> {
  return (await db('links').select('*').where({ patient_id: patientId }).orderBy('guardian_key')).map(linkFromRow);
}

// ── invitations (welcomes) ───────────────────────────────────────────────────────────────────────────────────

/**
 * Records the intent to send the welcome for (guardianKey, trigger) and returns the row that now stands for it:
 * a new `pending` row; or the existing one — `sent` means the welcome went already (do not call the portal),
 * `pending` means a call may be in flight (call again with the same key: the portal answers with the first
 * result), `failed` is put back to `pending` for the retry. Safe under concurrency: the database keeps one row
 * per (guardianKey, trigger) whatever the idempotency key.
 */
export async function recordInvitationIntent(
  db: Db,
  intent: { idempotencyKey: string; guardianKey: string; trigger: string },
  options: At = {},
): Promise<InvitationRecord> {
  const now = timeOf(options);
  // The usual case, a first claim, is one statement: the inserted row comes back. Otherwise the row exists.
  const [inserted] = (await db('invitations')
    .insert({ idempotency_key: intent.idempotencyKey, guardian_key: intent.guardianKey, trigger: intent.trigger, status: 'pending', created_at: now })
    .onConflict()
    .ignore()
    .returning('*')) as Record<string, unknown>[];
  if (inserted !== undefined) return invitationFromRow(inserted);
  await db('invitations').where({ guardian_key: intent.guardianKey, trigger: intent.trigger, status: 'failed' }).update({ status: 'pending' });
  const row = await db('invitations').select('*').where({ guardian_key: intent.guardianKey, trigger: intent.trigger }).first();
  if (row === undefined) throw new Error('invitation row vanished after insert');
  return invitationFromRow(row);
}

/** Records the portal's answer to a welcome. Returns whether the row exists. */
export async function recordInvitationResult(
  db: Db,
  idempotencyKey: string,
  result: { status: 'sent'; portalInvitationId?: string } | { status: 'failed' },
  options: At = {},
): Promise<boolean> {
  const update =
    result.status === 'sent'
      ? { status: 'sent', portal_invitation_id: result.portalInvitationId ?? null, sent_at: timeOf(options) }
      : { status: 'failed' };
  // A welcome recorded as sent stays sent (a late failure of a duplicate call must not undo it).
  return (await db('invitations').where({ idempotency_key: idempotencyKey }).whereNot({ status: 'sent' }).update(update)) > 0;
}

export async function getInvitation(db: Db, query: { guardianKey: string; trigger: string }): Promise<InvitationRecord | undefined> {
  const row = await db('invitations').select('*').where({ guardian_key: query.guardianKey, trigger: query.trigger }).first();
  return row === undefined ? undefined : invitationFromRow(row);
}

export async function listInvitations(db: Db, guardianKey: string): Promise<InvitationRecord[]> {
  return (await db('invitations').select('*').where({ guardian_key: guardianKey }).orderBy([{ column: 'created_at' }, { column: 'trigger' }])).map(invitationFromRow);
}

// ── side effects (intent → portal call → result) ─────────────────────────────────────────────────────────────

/**
 * Records the intent of a portal call before it is made and returns the row that stands for it: `done` means it
 * happened already (skip the call), `pending` means call (again, with the same key), `failed` is put back to
 * `pending` for the retry.
 */
export async function recordSideEffectIntent(
  db: Db,
  intent: { idempotencyKey: string; guardianKey: string; op: string; target: string },
  options: At = {},
): Promise<SideEffectRecord> {
  // The usual case, a first intent, is one statement: the inserted row comes back. Otherwise the row exists.
  const [inserted] = (await db('side_effects')
    .insert({ idempotency_key: intent.idempotencyKey, guardian_key: intent.guardianKey, op: intent.op, target: intent.target, status: 'pending', created_at: timeOf(options) })
    .onConflict('idempotency_key')
    .ignore()
    .returning('*')) as Record<string, unknown>[];
  if (inserted !== undefined) return sideEffectFromRow(inserted);
  await db('side_effects').where({ idempotency_key: intent.idempotencyKey, status: 'failed' }).update({ status: 'pending', finished_at: null });
  const row = await db('side_effects').select('*').where({ idempotency_key: intent.idempotencyKey }).first();
  if (row === undefined) throw new Error('side effect row vanished after insert');
  return sideEffectFromRow(row);
}

/** Records the result of a portal call. A `done` row stays done. Returns whether the row changed. */
export async function recordSideEffectResult(
  db: Db,
  idempotencyKey: string,
  result: { status: 'done' | 'failed'; portalStatus?: number; errorCode?: string },
  options: At = {},
): Promise<boolean> {
  const changed = await db('side_effects')
    .where({ idempotency_key: idempotencyKey })
    .whereNot({ status: 'done' })
    .update({ status: result.status, portal_status: result.portalStatus ?? null, error_code: result.errorCode ?? null, finished_at: timeOf(options) });
  return changed > 0;
}

export async function getSideEffect(db: Db, idempotencyKey: string): Promise<SideEffectRecord | undefined> {
  const row = await db('side_effects').select('*').where({ idempotency_key: idempotencyKey }).first();
  return row === undefined ? undefined : sideEffectFromRow(row);
}

/** Side effects whose result was never recorded (a crash between the call and the result), oldest first. */
export async function listPendingSideEffects(db: Db, query: { guardianKey?: string; limit: number }): Promise<SideEffectRecord[]> {
  const q = db('side_effects').select('*').where({ status: 'pending' }).orderBy([{ column: 'created_at' }, { column: 'idempotency_key' }]).limit(query.limit);
  if (query.guardianKey !== undefined) q.where({ guardian_key: query.guardianKey });
  return (await q).map(sideEffectFromRow);
}

// ── rows ─────────────────────────────────────────────────────────────────────────────────────────────────────

function accountFromRow(row: Record<string, unknown>): AccountRecord {
  return {
    guardianKey: String(row.guardian_key),
    portalId: optionalText(row.portal_id),
    email: String(row.email),
    status: row.status as AccountStatus,
    createdBy: row.created_by as AccountRecord['createdBy'],
    name: row.name === null || row.name === undefined ? undefined : fromJson<PersonName>(row.name),
    cellPhone: optionalText(row.cell_phone),
    version: optionalText(row.version),
    updatedAt: String(row.updated_at),
  };
}

function linkFromRow(row: Record<string, unknown>): LinkRecord {
  return {
    guardianKey: String(row.guardian_key),
    patientId: String(row.patient_id),
    accessLevel: row.access_level as AccessLevel,
    status: row.status as LinkStatus,
    updatedAt: String(row.updated_at),
  };
}

function invitationFromRow(row: Record<string, unknown>): InvitationRecord {
  return {
    idempotencyKey: String(row.idempotency_key),
    guardianKey: String(row.guardian_key),
    trigger: String(row.trigger),
    status: row.status as InvitationStatus,
    portalInvitationId: optionalText(row.portal_invitation_id),
    createdAt: String(row.created_at),
    sentAt: optionalText(row.sent_at),
  };
}

function sideEffectFromRow(row: Record<string, unknown>): SideEffectRecord {
  return {
    idempotencyKey: String(row.idempotency_key),
    guardianKey: String(row.guardian_key),
    op: String(row.op),
    target: String(row.target),
    status: row.status as SideEffectStatus,
    portalStatus: optionalNumber(row.portal_status),
    errorCode: optionalText(row.error_code),
    createdAt: String(row.created_at),
    finishedAt: optionalText(row.finished_at),
  };
}
