import { ERROR_CATALOG } from '../errors';
import { codeWords, inboxNextStep, inboxRejectionReason, jobFailureReason, jobNextStep, ruleWords } from './error-words';

describe('error codes in words', () => {
  test('every catalog code has its meaning and class', () => {
    for (const [code, entry] of Object.entries(ERROR_CATALOG)) {
      expect(codeWords(code)).toEqual({ code, meaning: entry.meaning, errorClass: entry.class });
    }
  });

  test('an unknown or missing code is said so', () => {
    expect(codeWords('ERR_FROM_THE_FUTURE').meaning).toMatch(/Unknown error code ERR_FROM_THE_FUTURE/);
    expect(codeWords('ERR_FROM_THE_FUTURE').errorClass).toBeUndefined();
    expect(codeWords(undefined).meaning).toMatch(/No error code/);
  });

  test('a failed job: the meaning plus how the retry policy treated it', () => {
    expect(jobFailureReason({ status: 'failed', attempts: 3, lastErrorCode: 'ERR_PORTAL_UNAVAILABLE' })).toBe(
      'The portal answered 5xx: retried with backoff. Still failing after 3 attempts: the retry budget is spent.',
    );
    expect(jobFailureReason({ status: 'failed', attempts: 1, lastErrorCode: 'ERR_PORTAL_EMAIL_IN_USE' })).toMatch(
      /already uses this email.*A permanent error: the job failed at once \(after 1 attempt\)/,
    );
    expect(jobFailureReason({ status: 'queued', attempts: 2, lastErrorCode: 'ERR_PORTAL_UNAVAILABLE' })).toMatch(/^The job is queued; its last run failed/);
  });

  test('next steps name the replay command', () => {
    expect(jobNextStep(12, 'ERR_PORTAL_UNAVAILABLE')).toMatch(/portal-bridge replay job:12$/);
    expect(jobNextStep(12, 'ERR_SOMETHING')).toMatch(/portal-bridge replay job:12 \(--dry-run/);
    expect(inboxNextStep(7, 'ERR_MAPPING_MISSING_FIELD')).toMatch(/mappings validate.*replay inbox:7/);
    expect(inboxNextStep(7, 'ERR_HL7_UNPARSEABLE')).toMatch(/resend.*replay inbox:7/);
    expect(inboxRejectionReason({ status: 'rejected', errorCode: 'ERR_HL7_UNPARSEABLE' })).toMatch(/^The input is not an HL7 v2 message/);
    expect(inboxRejectionReason({ status: 'accepted' })).toBe('The input is accepted; it was not rejected.');
  });

  test('rules in words', () => {
    expect(ruleWords('R09')).toBe('no email on file');
    expect(ruleWords('R04')).toBe('authority is …; only … grants access');
    expect(ruleWords('R19')).toMatch(/confirm with the parent/);
    expect(ruleWords('R99')).toBe('R99');
  });
});
