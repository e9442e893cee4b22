import { failedJob, phiIn, rejectedRow } from '../../test/helpers/phi';
import { createRefs } from '../refs';
import { failedJobItem, formatFailureList, rejectedInboxItem } from './failure-list';
import { createMasker } from './masking';

const m = createMasker(createRefs('test-key-0123456789abcdef'));

describe('failures list formatting', () => {
  test('a failed job: guardian by ref only, the code and its meaning, no patient data', () => {
    const item = failedJobItem(failedJob, m);
    expect(item).toEqual({
      id: 'job:12',
      guardian: expect.stringMatching(/^g_[0-9a-f]{16}$/),
      attempts: 3,
      code: 'ERR_PORTAL_UNAVAILABLE',
      meaning: 'The portal answered 5xx: retried with backoff.',
      errorClass: 'transient',
      error: 'portal answered 500 for a***@example.org',
      failedAt: '2026-01-15T15:00:07.000Z',
    });
    expect(JSON.stringify(item)).not.toContain('e:');
  });

  test('a rejected row: id, source, control id, the error in words', () => {
    expect(rejectedInboxItem(rejectedRow, m)).toEqual({
      id: 'inbox:7',
      source: 'adt-feed',
      format: 'hl7v2',
      controlId: 'MSG0007',
      receivedAt: '2026-01-15T14:00:00.000Z',
      code: 'ERR_MAPPING_MISSING_FIELD',
      meaning: 'A required field (such as the patient id) is empty in the message.',
      error: 'patient id (PID-3) is empty',
    });
  });

  test('tables of both, with what to type next; nothing of the person in them', () => {
    const list = { jobs: [failedJobItem(failedJob, m)], rejected: [rejectedInboxItem(rejectedRow, m)] };
    const text = formatFailureList(list, 50);
    expect(text).toMatch(/^Failed jobs \(1, most recent first\)\n {2}JOB +GUARDIAN +ATTEMPTS +FAILED AT +CODE +WHY\n {2}job:12 +g_[0-9a-f]{16} +3 /m);
    expect(text).toMatch(/inbox:7 +adt-feed +MSG0007 +2026-01-15T14:00:00.000Z +ERR_MAPPING_MISSING_FIELD +A required field/);
    expect(text).toMatch(/portal-bridge failures show <id>/);
    expect(phiIn(text)).toEqual([]);
    expect(phiIn(JSON.stringify(list))).toEqual([]);
  });

  test('empty lists say none; a full page says --limit shows more', () => {
    expect(formatFailureList({ jobs: [], rejected: [] }, 50)).toBe('Failed jobs (0, most recent first)\n  none\n\nRejected inbox rows (0, newest first)\n  none');
    expect(formatFailureList({ jobs: [failedJobItem(failedJob, m)], rejected: [] }, 1)).toMatch(/first 1; --limit shows more/);
  });
});
