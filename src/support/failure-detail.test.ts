import { failedJob, PHI, PHI_KEY, phiIn, rejectedRow } from '../../test/helpers/phi';
import { createRefs } from '../refs';
import type { AuditRow } from '../store/audit';
import { formatInboxDetail, formatJobDetail, inboxDetail, jobDetail, type JobDetailInput } from './failure-detail';
import { createMasker } from './masking';

const refs = createRefs('test-key-0123456789abcdef');
const masked = createMasker(refs);
const unmasked = createMasker(refs, { unmask: true });

const audit: AuditRow[] = [
  { id: 9, at: '2026-01-15T15:00:07.000Z', actor: 'daemon', guardianKey: PHI_KEY, op: 'create-account', portalStatus: 500, detail: { error: 'ERR_PORTAL_UNAVAILABLE' } },
  { id: 8, at: '2026-01-15T15:00:05.000Z', actor: 'daemon', guardianKey: PHI_KEY, op: 'send-welcome', portalStatus: 202, detail: { trigger: `email:${PHI.newEmail}` } },
  { id: 7, at: '2026-01-15T15:00:03.000Z', actor: 'daemon', guardianKey: PHI_KEY, patientId: PHI.patientId, rule: 'R20', op: 'decide:provision', inboxId: 4 },
  { id: 6, at: '2026-01-15T15:00:02.000Z', actor: 'daemon', guardianKey: PHI_KEY, op: 'rekey', detail: { to: `e:${PHI.newEmail}/ada testperson` } },
];

const input: JobDetailInput = {
  job: failedJob,
  account: {
    guardianKey: PHI_KEY,
    portalId: 'acc_17',
    email: PHI.email,
    status: 'invited',
    createdBy: 'bridge',
    name: { given: PHI.given, family: PHI.family },
    cellPhone: PHI.phone,
    updatedAt: '2026-01-15T15:00:04.000Z',
  },
  links: [{ guardianKey: PHI_KEY, patientId: PHI.patientId, accessLevel: 'full', status: 'linked', updatedAt: '2026-01-15T15:00:04.000Z' }],
  invitations: [{ idempotencyKey: 'k1', guardianKey: PHI_KEY, trigger: `email:${PHI.newEmail}`, status: 'sent', createdAt: '2026-01-15T15:00:05.000Z', sentAt: '2026-01-15T15:00:05.000Z' }],
  audit,
};

describe('failures show: a job', () => {
  test('the reason in words, retries, the last error, the audit; people masked', () => {
    const d = jobDetail(input, masked);
    expect(d).toMatchObject({
      id: 'job:12',
      status: 'failed',
      guardian: { ref: masked.guardianRef(PHI_KEY), key: 'e:a***@example.org/A.T./****-**-**' },
      reason: 'The portal answered 5xx: retried with backoff. Still failing after 3 attempts: the retry budget is spent.',
      attempts: 3,
      nextAttemptAt: null,
      lastError: { code: 'ERR_PORTAL_UNAVAILABLE', errorClass: 'transient', message: 'portal answered 500 for a***@example.org' },
      triggerInbox: 'inbox:4',
      account: { email: 'a***@example.org', name: 'A. T.', cellPhone: '***01', status: 'invited', createdBy: 'bridge', portalId: 'acc_17' },
      links: [{ patient: masked.patient(PHI.patientId), accessLevel: 'full', status: 'linked' }],
      welcomes: [{ trigger: 'email:a***@example.org', status: 'sent' }],
      masked: true,
    });
    expect(d.audit.map((a) => [a.op, a.rule, a.ruleWords, a.portalStatus])).toEqual([
      ['create-account', null, null, 500],
      ['send-welcome', null, null, 202],
      ['decide:provision', 'R20', 'eligible', null],
      ['rekey', null, null, null],
    ]);
    expect(d.audit[3]?.detail).toEqual({ to: 'e:a***@example.org/A.T.' });

    const text = formatJobDetail(d);
    expect(text).toMatch(/^job:12 {2}failed {2}guardian g_[0-9a-f]{16} \(e:a\*\*\*@example\.org\/A\.T\.\/\*\*\*\*-\*\*-\*\*\)/);
    expect(text).toMatch(/Why: +The portal answered 5xx/);
    expect(text).toMatch(/Next run: +none: a failed job runs again only when replayed/);
    expect(text).toMatch(/Next step: +Check that the portal .* portal-bridge replay job:12/);
    expect(text).toMatch(/decide:provision +R20 eligible +p_[0-9a-f]{16}/);
    expect(text).toMatch(/--unmask shows them/);
    expect(phiIn(text)).toEqual([]);
    expect(phiIn(JSON.stringify(d))).toEqual([]);
  });

  test('--unmask shows the person as stored', () => {
    const d = jobDetail(input, unmasked);
    expect(d.guardian.key).toBe(PHI_KEY);
    expect(d.account).toMatchObject({ email: PHI.email, name: 'Ada Testperson', cellPhone: PHI.phone });
    expect(d.links[0]?.patient).toBe(PHI.patientId);
    expect(d.masked).toBe(false);
    expect(formatJobDetail(d)).not.toMatch(/--unmask shows them/);
  });

  test('a job without account or audit still reads well', () => {
    const text = formatJobDetail(jobDetail({ job: { ...failedJob, status: 'queued', attempts: 1 }, links: [], invitations: [], audit: [] }, masked));
    expect(text).toMatch(/Account: +none in the ledger/);
    expect(text).toMatch(/Next run: +2026-01-15T15:00:07.000Z/);
    expect(text).toMatch(/Audit: +no rows/);
  });
});

describe('failures show: an inbox row', () => {
  test('the reason in words; the raw message never by default', () => {
    const d = inboxDetail(rejectedRow, [], masked);
    expect(d).toMatchObject({
      id: 'inbox:7',
      status: 'rejected',
      source: 'adt-feed',
      controlId: 'MSG0007',
      error: { code: 'ERR_MAPPING_MISSING_FIELD', message: 'patient id (PID-3) is empty' },
      masked: true,
    });
    expect(d.reason).toMatch(/^A required field \(such as the patient id\) is empty in the message\. The input is kept/);
    expect(d.nextStep).toMatch(/mappings validate .*portal-bridge replay inbox:7/);
    expect(d).not.toHaveProperty('raw');
    const text = formatInboxDetail(d);
    expect(text).toMatch(/The raw message holds patient data: --unmask shows it/);
    expect(phiIn(text)).toEqual([]);
    expect(phiIn(JSON.stringify(d))).toEqual([]);
  });

  test('--unmask shows the raw message as received', () => {
    const d = inboxDetail(rejectedRow, [], unmasked);
    expect(d.raw).toBe(rejectedRow.raw);
    expect(formatInboxDetail(d)).toContain(`Raw message (unmasked, as received):\nMSH|`);
  });
});
