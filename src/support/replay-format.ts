/**
 * `replay` output: what was (or, with --dry-run, would be) done for each job and inbox row, as plain data (the
 * `--json` shape) and as text. Ops are shown by kind and masked target. Pure.
 */
import type { Op } from '../core/plan';
import type { InboxRow } from '../store/inbox';
import type { Job } from '../store/jobs';
import type { DryRunPlan } from './dry-run';
import { codeWords } from './error-words';
import type { Masker } from './masking';

export interface OpItem {
  readonly kind: Op['kind'];
  /** Who or what the op acts on, masked. */
  readonly target: string;
}

export interface ReplayJobItem {
  readonly id: string;
  readonly guardian: string;
  readonly key: string;
  /** The job's status before the replay. */
  readonly was: string;
  /** Dry run: the ops reconcile would run now, and what it would hold. */
  readonly ops?: readonly OpItem[];
  readonly holds?: readonly { readonly rule: string; readonly reason: string; readonly patient: string | null }[];
  readonly handOverTo?: string;
  readonly notes?: readonly string[];
  /** Not a dry run: the key was enqueued again. */
  readonly requeued?: boolean;
}

/** Whether the row maps with the mapping in force now (dry run). */
export type MapsNow =
  | { readonly ok: true; readonly changes: number; readonly ignored: boolean }
  | { readonly ok: false; readonly code: string; readonly meaning: string; readonly error: string };

export interface ReplayInboxItem {
  readonly id: string;
  readonly source: string;
  readonly controlId: string | null;
  readonly mapsNow?: MapsNow;
  readonly reprocessed?: boolean;
}

export interface ReplayReport {
  readonly dryRun: boolean;
  readonly jobs: readonly ReplayJobItem[];
  readonly inbox: readonly ReplayInboxItem[];
}

export function describeOp(op: Op, m: Masker): OpItem {
  switch (op.kind) {
    case 'create-account':
      return { kind: op.kind, target: `account ${m.email(op.email)}, ${m.name(op.name)}${op.cellPhone === undefined ? '' : `, cell ${m.phone(op.cellPhone)}`}` };
    case 'update-account': {
      const changes = [
        op.enable === true ? 're-enable' : '',
        op.email === undefined ? '' : `email → ${m.email(op.email)}`,
        op.name === undefined ? '' : `name → ${m.name(op.name)}`,
        op.cellPhone === undefined ? '' : `cell → ${m.phone(op.cellPhone)}`,
      ].filter((c) => c !== '');
      return { kind: op.kind, target: `account: ${changes.join(', ')}` };
    }
    case 'link':
      return { kind: op.kind, target: `${m.patient(op.patientId)} (${op.accessLevel} access)` };
    case 'unlink':
      return { kind: op.kind, target: m.patient(op.patientId) };
    case 'disable-account':
      return { kind: op.kind, target: 'account (no dependents left; never deleted)' };
    case 'send-welcome':
      return { kind: op.kind, target: `welcome, trigger ${m.trigger(op.trigger)}${op.covers === undefined ? '' : ` (also answers ${op.covers.map((t) => m.trigger(t)).join(', ')})`}` };
    default:
      return op satisfies never;
  }
}

export function dryRunJobItem(job: Job, planned: DryRunPlan, m: Masker): ReplayJobItem {
  return {
    ...jobHead(job, m),
    ops: planned.ops.map((op) => describeOp(op, m)),
    holds: planned.holds.map((h) => ({ rule: h.rule, reason: m.text(h.reason), patient: h.patientId === undefined ? null : m.patient(h.patientId) })),
    ...(planned.handOverTo !== undefined && { handOverTo: m.guardianKey(planned.handOverTo) }),
    notes: planned.notes,
  };
}

export function requeuedJobItem(job: Job, m: Masker): ReplayJobItem {
  return { ...jobHead(job, m), requeued: true };
}

export function inboxItem(row: InboxRow, outcome: { mapsNow: MapsNow } | { reprocessed: boolean }): ReplayInboxItem {
  return { id: `inbox:${row.id}`, source: row.source, controlId: row.controlId ?? null, ...outcome };
}

/** The words for a translation failure of `code` (dry run of an inbox row). */
export function stillRejected(code: string, error: string, m: Masker): MapsNow {
  return { ok: false, code, meaning: codeWords(code).meaning, error: m.text(error) };
}

export function formatReplay(report: ReplayReport): string {
  const out: string[] = [];
  for (const j of report.jobs) {
    const head = `${j.id}  guardian ${j.guardian} (${j.key}), was ${j.was}`;
    if (!report.dryRun) {
      out.push(`${head}: key re-enqueued; the daemon reconciles it from current state`);
      continue;
    }
    if (j.handOverTo !== undefined) out.push(`${head}: would hand the ledger over to ${j.handOverTo}; no portal call`);
    else if ((j.ops ?? []).length === 0) out.push(`${head}: would run no op (nothing to do)`);
    else out.push(`${head}: would run ${(j.ops ?? []).length} op(s):`);
    for (const op of j.ops ?? []) out.push(`    ${op.kind.padEnd(16)}${op.target}`);
    for (const h of j.holds ?? []) out.push(`    hold ${h.rule.padEnd(11)}${h.reason}${h.patient === null ? '' : ` (${h.patient})`}`);
    for (const n of j.notes ?? []) out.push(`    note: ${n}`);
  }
  for (const r of report.inbox) {
    const head = `${r.id}  source ${r.source}, control id ${r.controlId ?? '-'}`;
    if (!report.dryRun) {
      out.push(`${head}: ${r.reprocessed === true ? 'back in the inbox queue; the ingest worker maps it again' : 'not reprocessed (no longer rejected)'}`);
      continue;
    }
    const now = r.mapsNow;
    if (now === undefined) out.push(`${head}: would go back to the inbox queue`);
    else if (now.ok) out.push(`${head}: would go back to the inbox queue; it maps now (${now.ignored ? 'accepted, changes nothing' : `${now.changes} change(s)`})`);
    else out.push(`${head}: would go back to the inbox queue, but it would be rejected again: ${now.code}: ${now.meaning} — ${now.error}`);
  }
  if (report.dryRun) out.push('', 'Dry run: nothing was changed. Without --dry-run the keys are re-enqueued (never an old payload).');
  return out.join('\n');
}

function jobHead(job: Job, m: Masker): Pick<ReplayJobItem, 'id' | 'guardian' | 'key' | 'was'> {
  return { id: `job:${job.id}`, guardian: m.guardianRef(job.key), key: m.guardianKey(job.key), was: job.status };
}
