/** Open email conflicts (R12: one email-key used by different guardians), kept for staff and the admin API. */
import type { Db } from './db';
import { distinctSorted } from './db';
import { fromJson, toDbTime, toJson } from './column-values';

export interface ConflictRecord {
  readonly emailKey: string;
  readonly guardianKeys: readonly string[];
  readonly patientIds: readonly string[];
  readonly updatedAt: string;
}

/** Records (or replaces) the conflict on an email-key. */
export async function upsertConflict(
  db: Db,
  conflict: { emailKey: string; guardianKeys: readonly string[]; patientIds: readonly string[] },
  options: { now?: Date } = {},
): Promise<void> {
  await db('conflicts')
    .insert({
      email_key: conflict.emailKey,
      guardian_keys: toJson(distinctSorted(conflict.guardianKeys)),
      patient_ids: toJson(distinctSorted(conflict.patientIds)),
      updated_at: toDbTime(options.now ?? new Date()),
    })
    .onConflict('email_key')
    .merge();
}

/** Forgets a resolved conflict. Returns whether there was one. */
export async function resolveConflict(db: Db, emailKey: string): Promise<boolean> {
  return (await db('conflicts').where({ email_key: emailKey }).delete()) > 0;
}

export async function getConflict(db: Db, emailKey: string): Promise<ConflictRecord | undefined> {
  const row = await db('conflicts').select('*').where({ email_key: emailKey }).first();
  return row === undefined ? undefined : fromRow(row);
}

export async function listConflicts(db: Db, page: { limit: number; offset?: number }): Promise<ConflictRecord[]> {
  return (await db('conflicts').select('*').orderBy('email_key').limit(page.limit).offset(page.offset ?? 0)).map(fromRow);
}

function fromRow(row: Record<string, unknown>): ConflictRecord {
  return {
    emailKey: String(row.email_key),
    guardianKeys: fromJson<string[]>(row.guardian_keys),
    patientIds: fromJson<string[]>(row.patient_ids),
    updatedAt: String(row.updated_at),
  };
}
