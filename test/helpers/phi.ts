import type { InboxRow } from '../../src/store/inbox';
import type { Job } from '../../src/store/jobs';

/**
 * One invented person's data, and a check that none of it shows in staff-facing output (DESIGN §1: "without
 * patient data by default").
 */
export const PHI = {
  email: 'ada.testperson@example.org',
  newEmail: 'ada.new@example.org',
  given: 'Ada',
  family: 'Testperson',
  phone: '+12025550101',
  birthDate: '1985-02-03',
  patientId: 'P1001',
  childGiven: 'Mia',
} as const;

/** The guardian key of that person when no contact id is known: `e:<email-key>/<name-key>/<birth date>`. */
export const PHI_KEY = `e:${PHI.email}/ada testperson/${PHI.birthDate}`;

/** The forms PHI could take in output: whole values and telling parts (local part, digits, compact dates). */
const PATTERNS: readonly RegExp[] = [
  /ada\.testperson/i,
  /ada\.new/i,
  /testperson/i,
  /\bada\b/i,
  /\bmia\b/i,
  /2025550101/,
  /555-?0101/,
  /1985-?02-?03/,
  /2019-?06-?01/,
  /P1001/,
];

/** The PHI patterns found in `text` (expect it to be []). */
export function phiIn(text: string): string[] {
  return PATTERNS.filter((p) => p.test(text)).map((p) => p.source);
}

/** A job of that guardian that failed after three 5xx answers. */
export const failedJob: Job = {
  id: 12,
  key: PHI_KEY,
  kind: 'reconcile',
  status: 'failed',
  attempts: 3,
  nextAttemptAt: '2026-01-15T15:00:07.000Z',
  lastErrorCode: 'ERR_PORTAL_UNAVAILABLE',
  // Messages are meant to hold no patient data; the masker is the safety net when one does.
  lastError: `portal answered 500 for ${PHI.email}`,
  dirty: false,
  createdAt: '2026-01-15T15:00:00.000Z',
  updatedAt: '2026-01-15T15:00:07.000Z',
  triggerInboxId: 4,
};

/** A rejected HL7 message about that person (raw text full of PHI). */
export const rejectedRow: InboxRow = {
  id: 7,
  source: 'adt-feed',
  dedupeKey: 'MSG0007',
  format: 'hl7v2',
  controlId: 'MSG0007',
  raw: `MSH|^~\\&|EHR|CLINIC|PORTAL|CLINIC|20260110090000||ADT^A04|MSG0007|P|2.5.1\rPID|1||${PHI.patientId}^^^CLINIC^MR||${PHI.family}^${PHI.childGiven}||20190601\rNK1|1|${PHI.family}^${PHI.given}|MTH||^NET^Internet^${PHI.email}`,
  receivedAt: '2026-01-15T14:00:00.000Z',
  status: 'rejected',
  errorCode: 'ERR_MAPPING_MISSING_FIELD',
  error: 'patient id (PID-3) is empty',
  warnings: [],
  processedAt: '2026-01-15T14:00:01.000Z',
};
