/**
 * `failures show`: one job or inbox row explained for staff — the reason in words, the retry state, the
 * guardian's recent audit rows — with people masked unless the masker is unmasked. An inbox row's raw message is
 * included only when unmasked. Pure: the command reads the rows, this shapes them (the `--json` shape) and
 * prints them.
 */
import type { AuditRow } from '../store/audit';
import type { InboxRow } from '../store/inbox';
import type { Job } from '../store/jobs';
import type { AccountRecord, InvitationRecord, LinkRecord } from '../store/ledger';
import { auditItem, formatAudit, type AuditItem } from './audit-rows';
import { codeWords, inboxNextStep, inboxRejectionReason, jobFailureReason, jobNextStep } from './error-words';
import type { Masker } from './masking';

export interface JobDetail {
  readonly kind: 'job';
  readonly id: string;
  readonly status: string;
  readonly guardian: { readonly ref: string; readonly key: string };
  readonly reason: string;
  readonly nextStep: string;
  readonly attempts: number;
  /** Null for a failed job: it runs again only when replayed. */
  readonly nextAttemptAt: string | null;
  readonly lastError: { readonly code: string | null; readonly meaning: string; readonly errorClass: string | null; readonly message: string | null };
  readonly triggerInbox: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly account: {
    readonly email: string;
    readonly name: string;
    readonly cellPhone: string;
    readonly status: string;
    readonly createdBy: string;
    readonly portalId: string | null;
  } | null;
  readonly links: readonly { readonly patient: string; readonly accessLevel: string; readonly status: string }[];
  readonly welcomes: readonly { readonly trigger: string; readonly status: string; readonly sentAt: string | null }[];
  readonly audit: readonly AuditItem[];
  readonly masked: boolean;
}

export interface JobDetailInput {
  readonly job: Job;
  readonly account?: AccountRecord;
  readonly links: readonly LinkRecord[];
  readonly invitations: readonly InvitationRecord[];
  /** Newest first. */
  readonly audit: readonly AuditRow[];
}

export function jobDetail(input: JobDetailInput, m: Masker): JobDetail {
  const { job, account } = input;
  const words = codeWords(job.lastErrorCode);
  return {
    kind: 'job',
    id: `job:${job.id}`,
    status: job.status,
    guardian: { ref: m.guardianRef(job.key), key: m.guardianKey(job.key) },
    reason: jobFailureReason(job),
    nextStep: jobNextStep(job.id, job.lastErrorCode),
    attempts: job.attempts,
    nextAttemptAt: job.status === 'failed' || job.status === 'succeeded' ? null : job.nextAttemptAt,
    lastError: { code: job.lastErrorCode ?? null, meaning: words.meaning, errorClass: words.errorClass ?? null, message: job.lastError === undefined ? null : m.text(job.lastError) },
    triggerInbox: job.triggerInboxId === undefined ? null : `inbox:${job.triggerInboxId}`,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    account:
      account === undefined
        ? null
        : {
          email: m.email(account.email),
          name: m.name(account.name),
          cellPhone: m.phone(account.cellPhone),
          status: account.status,
          createdBy: account.createdBy,
          portalId: account.portalId ?? null,
        },
    links: input.links.map((l) => ({ patient: m.patient(l.patientId), accessLevel: l.accessLevel, status: l.status })),
    welcomes: input.invitations.map((i) => ({ trigger: m.trigger(i.trigger), status: i.status, sentAt: i.sentAt ?? null })),
    audit: input.audit.map((a) => auditItem(a, m)),
    masked: !m.unmasked,
  };
}

export interface InboxDetail {
  readonly kind: 'inbox';
  readonly id: string;
  readonly status: string;
  readonly source: string;
  readonly format: string;
  readonly controlId: string | null;
  readonly receivedAt: string;
  readonly processedAt: string | null;
  readonly reason: string;
  readonly nextStep: string;
  readonly error: { readonly code: string | null; readonly meaning: string; readonly message: string | null };
  readonly warnings: readonly string[];
  readonly audit: readonly AuditItem[];
  /** The message exactly as received: only when unmasked. */
  readonly raw?: string;
  readonly masked: boolean;
}

export function inboxDetail(row: InboxRow, audit: readonly AuditRow[], m: Masker): InboxDetail {
  return {
    kind: 'inbox',
    id: `inbox:${row.id}`,
    status: row.status,
    source: row.source,
    format: row.format,
    controlId: row.controlId ?? null,
    receivedAt: row.receivedAt,
    processedAt: row.processedAt ?? null,
    reason: inboxRejectionReason(row),
    nextStep: inboxNextStep(row.id, row.errorCode),
    error: { code: row.errorCode ?? null, meaning: codeWords(row.errorCode).meaning, message: row.error === undefined ? null : m.text(row.error) },
    warnings: row.warnings.map((w) => m.text(w)),
    audit: audit.map((a) => auditItem(a, m)),
    ...(m.unmasked && { raw: row.raw }),
    masked: !m.unmasked,
  };
}

const MASK_NOTE = 'People are masked (emails, initials, refs); --unmask shows them, for staff who need it.';

export function formatJobDetail(d: JobDetail): string {
  const out = [
    `${d.id}  ${d.status}  guardian ${d.guardian.ref} (${d.guardian.key})`,
    '',
    `Why:        ${d.reason}`,
    `Next step:  ${d.nextStep}`,
    '',
    `Attempts:   ${d.attempts}`,
    `Next run:   ${d.nextAttemptAt ?? (d.status === 'failed' ? 'none: a failed job runs again only when replayed' : '-')}`,
    `Last error: ${d.lastError.code ?? '-'}${d.lastError.errorClass === null ? '' : ` (${d.lastError.errorClass})`}${d.lastError.message === null ? '' : `: ${d.lastError.message}`}`,
    `Queued by:  ${d.triggerInbox ?? '-'}`,
    `Created:    ${d.createdAt}   last change: ${d.updatedAt}`,
    '',
  ];
  if (d.account === null) out.push('Account:    none in the ledger (never created, or not yet known)');
  else {
    const a = d.account;
    out.push(`Account:    ${a.email}  ${a.name}  cell ${a.cellPhone}  ${a.status}, created by ${a.createdBy}${a.portalId === null ? '' : `, portal id ${a.portalId}`}`);
  }
  out.push(`Links:      ${d.links.length === 0 ? 'none' : d.links.map((l) => `${l.patient} ${l.accessLevel} ${l.status}`).join('; ')}`);
  out.push(`Welcomes:   ${d.welcomes.length === 0 ? 'none' : d.welcomes.map((w) => `${w.trigger} ${w.status}${w.sentAt === null ? '' : ` ${w.sentAt}`}`).join('; ')}`);
  out.push('', ...formatAudit(d.audit));
  if (d.masked) out.push('', MASK_NOTE);
  return out.join('\n');
}

export function formatInboxDetail(d: InboxDetail): string {
  const out = [
    `${d.id}  ${d.status}  source ${d.source} (${d.format})  control id ${d.controlId ?? '-'}`,
    '',
    `Why:        ${d.reason}`,
    `Error:      ${d.error.code ?? '-'}${d.error.message === null ? '' : `: ${d.error.message}`}`,
    `Next step:  ${d.nextStep}`,
    '',
    `Received:   ${d.receivedAt}   processed: ${d.processedAt ?? '-'}`,
  ];
  if (d.warnings.length > 0) out.push(`Warnings:   ${d.warnings.join('; ')}`);
  out.push('', ...formatAudit(d.audit));
  if (d.raw !== undefined) out.push('', 'Raw message (unmasked, as received):', d.raw.replace(/\r\n?/gu, '\n'));
  else out.push('', 'The raw message holds patient data: --unmask shows it, for staff who need it.');
  return out.join('\n');
}
