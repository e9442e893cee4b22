/** Pending welcome triggers (see migration 007): recorded by ingest or staff, consumed by reconcile. */
import { toDbTime } from './column-values';
import type { Db } from './db';

/** Records triggers; a trigger already pending for the guardian is kept as it is (idempotent). */
export async function addWelcomeTriggers(db: Db, triggers: readonly { guardianKey: string; trigger: string }[], options: { now?: Date } = {}): Promise<void> {
  if (triggers.length === 0) return;
  const at = toDbTime(options.now ?? new Date());
  await db('welcome_triggers')
    .insert(triggers.map((t) => ({ guardian_key: t.guardianKey, trigger: t.trigger, created_at: at })))
    .onConflict(['guardian_key', 'trigger'])
    .ignore();
}

/** A guardian's pending triggers, oldest first. */
export async function listWelcomeTriggers(db: Db, guardianKey: string): Promise<string[]> {
  return (await db('welcome_triggers').select('trigger').where({ guardian_key: guardianKey }).orderBy([{ column: 'created_at' }, { column: 'trigger' }])).map(
    (r: { trigger: string }) => r.trigger,
  );
}

/** Forgets answered (or no longer answerable) triggers. */
export async function deleteWelcomeTriggers(db: Db, guardianKey: string, triggers: readonly string[]): Promise<void> {
  if (triggers.length === 0) return;
  await db('welcome_triggers').where({ guardian_key: guardianKey }).whereIn('trigger', [...triggers]).delete();
}
