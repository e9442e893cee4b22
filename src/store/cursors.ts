/** Named cursors (a FHIR poller's `_lastUpdated`, the portal's changes cursor): advanced only after the work is stored. */
import type { Db } from './db';
import { toDbTime } from './column-values';

export async function getCursor(db: Db, name: string): Promise<string | undefined> {
  const row = await db('cursors').select('value').where({ name }).first();
  return row === undefined ? undefined : String(row.value);
}

export async function setCursor(db: Db, name: string, value: string, options: { now?: Date } = {}): Promise<void> {
  await db('cursors').insert({ name, value, updated_at: toDbTime(options.now ?? new Date()) }).onConflict('name').merge();
}

/** Removes a cursor (the next poll starts from the beginning: a full resync). */
export async function deleteCursor(db: Db, name: string): Promise<void> {
  await db('cursors').where({ name }).delete();
}
