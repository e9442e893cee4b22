/**
 * Error codes and rule ids in words for support staff (DESIGN §6: "reason in words"), from the one catalog
 * (src/errors.ts) and the eligibility rules. Pure.
 */
import { RULES } from '../core/eligibility';
import { ERROR_CATALOG, type ErrorClass } from '../errors';

export interface CodeWords {
  readonly code: string;
  readonly meaning: string;
  /** Undefined for a code the catalog does not know (written by another version). */
  readonly errorClass?: ErrorClass;
}

/** The catalog's meaning and class of `code`. */
export function codeWords(code: string | undefined): CodeWords {
  if (code === undefined) return { code: '-', meaning: 'No error code was recorded.' };
  const entry = (ERROR_CATALOG as Readonly<Record<string, { class: ErrorClass; meaning: string }>>)[code];
  return entry === undefined ? { code, meaning: `Unknown error code ${code} (not in this version's catalog).` } : { code, meaning: entry.meaning, errorClass: entry.class };
}

/** Why a failed job failed, in one or two sentences: the code's meaning and how the retry policy treated it. */
export function jobFailureReason(job: { readonly status: string; readonly attempts: number; readonly lastErrorCode?: string }): string {
  const words = codeWords(job.lastErrorCode);
  if (job.status !== 'failed') {
    return job.lastErrorCode === undefined ? `The job is ${job.status}; it has not failed.` : `The job is ${job.status}; its last run failed: ${words.meaning}`;
  }
  const runs = `${job.attempts} attempt${job.attempts === 1 ? '' : 's'}`;
  switch (words.errorClass) {
    case 'permanent':
      return `${words.meaning} A permanent error: the job failed at once (after ${runs}) and is not retried by itself.`;
    case 'transient':
    case 'ambiguous':
      return `${words.meaning} Still failing after ${runs}: the retry budget is spent.`;
    case undefined:
      return `${words.meaning} The job failed after ${runs}.`;
    default:
      return words.errorClass satisfies never;
  }
}

/** What a person does about a failed job, by its error code. */
export function jobNextStep(jobId: number, code: string | undefined): string {
  const replay = `portal-bridge replay job:${jobId}`;
  switch (code) {
    case 'ERR_PORTAL_UNAVAILABLE':
    case 'ERR_PORTAL_CONNECTION':
    case 'ERR_PORTAL_TIMEOUT':
    case 'ERR_PORTAL_RATE_LIMITED':
    case 'ERR_PORTAL_IN_FLIGHT':
    case 'ERR_PORTAL_PRECONDITION_FAILED':
    case 'ERR_STORE_UNAVAILABLE':
      return `Check that the portal and the database are reachable, then: ${replay}`;
    case 'ERR_PORTAL_EMAIL_IN_USE':
      return `Another portal account uses this email: check the chart's contacts and the portal's accounts, correct the chart, then: ${replay}`;
    case 'ERR_PORTAL_INVALID_REQUEST':
      return `The portal refused the data: check the guardian's details on the chart, then: ${replay} (--dry-run shows what it would send)`;
    case 'ERR_PORTAL_FORBIDDEN':
      return `Check the portal API token and the portal's policy for this account, then: ${replay}`;
    case 'ERR_GUARD_MASS_UNLINK':
      return 'A person checks the held unlinks (failures list), then lifts the guard; the held jobs are replayed with it.';
    case 'ERR_INTERNAL':
      return `A bug in portal-bridge: report it with the job id and the logs around it; after the fix: ${replay}`;
    default:
      return `Fix the cause, then: ${replay} (--dry-run first shows the ops it would run)`;
  }
}

/** Why an inbox row was rejected: the code's meaning. */
export function inboxRejectionReason(row: { readonly status: string; readonly errorCode?: string }): string {
  if (row.status !== 'rejected') return `The input is ${row.status}; it was not rejected.`;
  return `${codeWords(row.errorCode).meaning} The input is kept, not mapped; nothing changed because of it.`;
}

/** What a person does about a rejected inbox row. */
export function inboxNextStep(inboxId: number, code: string | undefined): string {
  const replay = `portal-bridge replay inbox:${inboxId}`;
  if (code?.startsWith('ERR_MAPPING_') === true) {
    return `Fix the mapping (portal-bridge mappings validate / explain), then: ${replay} (--dry-run says whether it maps now)`;
  }
  return `Have the sender correct and resend the message, or fix the mapping if it should be accepted, then: ${replay}`;
}

// Plan rules (R16–R19) and the guard are not eligibility rules; their words live here.
const OTHER_RULES: Readonly<Record<string, string>> = {
  R16: 'already linked and active',
  R17: 'created by staff; nothing is emailed',
  R18: 'welcome re-sent',
  R19: 'login email of an active account changed: confirm with the parent',
  GUARD: 'mass-unlink guard',
};

/** A rule id in words (`R09` → `no email on file`); placeholders of the rule's template become `…`. */
export function ruleWords(rule: string): string {
  const known = RULES.find((r) => r.id === rule);
  if (known !== undefined) return known.reason.replace(/\{\w+\}/gu, '…');
  return OTHER_RULES[rule] ?? rule;
}
