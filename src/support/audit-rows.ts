/** A guardian's or an inbox row's audit rows for staff: rule ids in words, patients and keys masked. Pure. */
import type { AuditDetail, AuditRow } from '../store/audit';
import { ruleWords } from './error-words';
import type { Masker } from './masking';
import { formatTable } from './table';

export interface AuditItem {
  readonly id: number;
  readonly at: string;
  readonly actor: string;
  readonly patient: string | null;
  readonly rule: string | null;
  readonly ruleWords: string | null;
  readonly op: string | null;
  readonly portalStatus: number | null;
  readonly inbox: string | null;
  readonly detail: Readonly<Record<string, unknown>> | null;
}

export function auditItem(a: AuditRow, m: Masker): AuditItem {
  return {
    id: a.id,
    at: a.at,
    actor: a.actor,
    patient: a.patientId === undefined ? null : m.patient(a.patientId),
    rule: a.rule ?? null,
    ruleWords: a.rule === undefined ? null : ruleWords(a.rule),
    op: a.op ?? null,
    portalStatus: a.portalStatus ?? null,
    inbox: a.inboxId === undefined ? null : `inbox:${a.inboxId}`,
    detail: a.detail === undefined ? null : maskDetail(a.detail, m),
  };
}

/** Audit details hold codes and ids; a guardian key among them (a re-key's `to`) is masked, other text too. */
function maskDetail(detail: AuditDetail, m: Masker): Record<string, unknown> {
  const one = (v: string): string => (/^[cep]:/u.test(v) ? m.guardianKey(v) : m.text(v));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(detail)) out[k] = typeof v === 'string' ? one(v) : Array.isArray(v) ? v.map((s: string) => one(s)) : v;
  return out;
}

/** The rows as an indented table under a heading. */
export function formatAudit(audit: readonly AuditItem[]): string[] {
  if (audit.length === 0) return ['Audit:      no rows'];
  const rows = audit.map((a) => [
    a.at,
    a.op ?? '-',
    a.rule === null ? '-' : `${a.rule} ${a.ruleWords ?? ''}`.trim(),
    a.patient ?? '-',
    a.portalStatus === null ? '-' : String(a.portalStatus),
    [a.actor === 'daemon' ? '' : `by ${a.actor}`, a.inbox ?? '', a.detail === null ? '' : JSON.stringify(a.detail)].filter((s) => s !== '').join(' '),
  ]);
  return [`Audit (newest ${audit.length}, newest first):`, ...formatTable(['AT', 'OP', 'RULE', 'PATIENT', 'PORTAL', 'MORE'], rows).split('\n').map((l) => `  ${l}`)];
}
