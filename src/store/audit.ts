/**
 * The audit trail (DESIGN §6): every decision and side effect — when, who, guardianKey, patientId, rule id, op,
 * idempotency key, portal status, source inbox id. Never patient data: ids, rule ids and codes only.
 */
import type { Db } from './db';
import { chunks } from './db';
import { fromJson, optionalNumber, optionalText, toDbTime, toId, toJson, toOptionalId } from './column-values';

/** Extra codes and ids for an audit row. Values are codes, ids and counts, never names, emails, phones or dates. */
export type AuditDetail = Readonly<Record<string, string | number | boolean | null | readonly string[]>>;

export interface NewAuditRow {
  readonly at: Date;
  /** `daemon` or a staff member's id. */
  readonly actor: string;
  readonly guardianKey?: string;
  readonly patientId?: string;
  readonly rule?: string;
  readonly op?: string;
  readonly idempotencyKey?: string;
  readonly portalStatus?: number;
  readonly inboxId?: number;
  readonly detail?: AuditDetail;
}

export interface AuditRow extends Omit<NewAuditRow, 'at'> {
  readonly id: number;
  readonly at: string;
}

/** Appends rows (in order; ids increase). */
export async function appendAudit(db: Db, rows: readonly NewAuditRow[]): Promise<void> {
  for (const part of chunks(rows, 100)) {
    await db('audit').insert(
      part.map((r) => ({
        at: toDbTime(r.at),
        actor: r.actor,
        guardian_key: r.guardianKey ?? null,
        patient_id: r.patientId ?? null,
        rule: r.rule ?? null,
        op: r.op ?? null,
        idempotency_key: r.idempotencyKey ?? null,
        portal_status: r.portalStatus ?? null,
        inbox_id: r.inboxId ?? null,
        detail: r.detail === undefined ? null : toJson(r.detail),
      })),
    );
  }
}

/** Audit rows, newest first, filtered by guardian and/or patient; `beforeId` pages backwards. */
export async function listAudit(
  db: Db,
  query: { guardianKey?: string; patientId?: string; inboxId?: number; beforeId?: number; limit?: number },
): Promise<AuditRow[]> {
  const q = db('audit').select('*').orderBy('id', 'desc').limit(query.limit ?? 100);
  if (query.guardianKey !== undefined) q.where({ guardian_key: query.guardianKey });
  if (query.patientId !== undefined) q.where({ patient_id: query.patientId });
  if (query.inboxId !== undefined) q.where({ inbox_id: query.inboxId });
  if (query.beforeId !== undefined) q.where('id', '<', query.beforeId);
  return (await q).map((row: Record<string, unknown>) => ({
    id: toId(row.id),
    at: String(row.at),
    actor: String(row.actor),
    guardianKey: optionalText(row.guardian_key),
    patientId: optionalText(row.patient_id),
    rule: optionalText(row.rule),
    op: optionalText(row.op),
    idempotencyKey: optionalText(row.idempotency_key),
    portalStatus: optionalNumber(row.portal_status),
    inboxId: toOptionalId(row.inbox_id),
    detail: row.detail === null || row.detail === undefined ? undefined : fromJson<AuditDetail>(row.detail),
  }));
}

/** How many audit rows record `op` at or after `since` (e.g. unlinks in the mass-unlink guard's window). */
export async function countAuditOps(db: Db, query: { op: string; since: Date }): Promise<number> {
  const row = await db('audit').where({ op: query.op }).andWhere('at', '>=', toDbTime(query.since)).count({ n: '*' }).first();
  return Number(row?.n ?? 0);
}
