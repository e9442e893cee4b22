/**
 * `failures list`: the support queue (DESIGN §6) — failed jobs and rejected inbox rows — as plain data (the
 * `--json` shape) and as tables. A job's guardian is shown by its ref, never by its key (which holds an email and
 * a name); error messages go through the masker too. Pure.
 */
import type { InboxRow } from '../store/inbox';
import type { Job } from '../store/jobs';
import { codeWords } from './error-words';
import type { Masker } from './masking';
import { formatTable } from './table';

export interface FailedJobItem {
  /** `job:<n>`: what `failures show` and `replay` take. */
  readonly id: string;
  /** The guardian's ref (`g_…`). */
  readonly guardian: string;
  readonly attempts: number;
  readonly code: string | null;
  readonly meaning: string;
  readonly errorClass: string | null;
  readonly error: string | null;
  readonly failedAt: string;
}

export interface RejectedInboxItem {
  /** `inbox:<n>`. */
  readonly id: string;
  readonly source: string;
  readonly format: string;
  readonly controlId: string | null;
  readonly receivedAt: string;
  readonly code: string | null;
  readonly meaning: string;
  readonly error: string | null;
}

export interface FailureList {
  readonly jobs: readonly FailedJobItem[];
  readonly rejected: readonly RejectedInboxItem[];
}

export function failedJobItem(job: Job, m: Masker): FailedJobItem {
  const words = codeWords(job.lastErrorCode);
  return {
    id: `job:${job.id}`,
    guardian: m.guardianRef(job.key),
    attempts: job.attempts,
    code: job.lastErrorCode ?? null,
    meaning: words.meaning,
    errorClass: words.errorClass ?? null,
    error: job.lastError === undefined ? null : m.text(job.lastError),
    failedAt: job.updatedAt,
  };
}

export function rejectedInboxItem(row: InboxRow, m: Masker): RejectedInboxItem {
  return {
    id: `inbox:${row.id}`,
    source: row.source,
    format: row.format,
    controlId: row.controlId ?? null,
    receivedAt: row.receivedAt,
    code: row.errorCode ?? null,
    meaning: codeWords(row.errorCode).meaning,
    error: row.error === undefined ? null : m.text(row.error),
  };
}

/** Both lists as tables, with what to type next; `limit` is the page size used (to say when more may exist). */
export function formatFailureList(list: FailureList, limit: number): string {
  const out: string[] = [];
  out.push(`Failed jobs (${countLabel(list.jobs.length, limit)}, most recent first)`);
  if (list.jobs.length === 0) out.push('  none');
  else {
    out.push(
      indent(
        formatTable(
          ['JOB', 'GUARDIAN', 'ATTEMPTS', 'FAILED AT', 'CODE', 'WHY'],
          list.jobs.map((j) => [j.id, j.guardian, String(j.attempts), j.failedAt, j.code ?? '-', j.meaning]),
        ),
      ),
    );
  }
  out.push('');
  out.push(`Rejected inbox rows (${countLabel(list.rejected.length, limit)}, newest first)`);
  if (list.rejected.length === 0) out.push('  none');
  else {
    out.push(
      indent(
        formatTable(
          ['INBOX', 'SOURCE', 'CONTROL ID', 'RECEIVED', 'CODE', 'WHY'],
          list.rejected.map((r) => [r.id, r.source, r.controlId ?? '-', r.receivedAt, r.code ?? '-', [r.meaning, r.error].filter((s) => s !== null).join(' — ')]),
        ),
      ),
    );
  }
  if (list.jobs.length > 0 || list.rejected.length > 0) {
    out.push('', 'Details: portal-bridge failures show <id>    Replay: portal-bridge replay <id> [--dry-run]');
  }
  return out.join('\n');
}

function countLabel(n: number, limit: number): string {
  return n >= limit ? `first ${n}; --limit shows more` : String(n);
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}
