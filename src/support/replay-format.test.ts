import { failedJob, PHI, PHI_KEY, phiIn, rejectedRow } from '../../test/helpers/phi';
import type { Op } from '../core/plan';
import { createRefs } from '../refs';
import { createMasker } from './masking';
import { describeOp, dryRunJobItem, formatReplay, inboxItem, requeuedJobItem, stillRejected } from './replay-format';

const refs = createRefs('test-key-0123456789abcdef');
const m = createMasker(refs);
const name = { given: PHI.given, family: PHI.family };

const ops: Op[] = [
  { kind: 'create-account', guardianKey: PHI_KEY, email: PHI.email, name, cellPhone: PHI.phone },
  { kind: 'update-account', guardianKey: PHI_KEY, email: PHI.newEmail, name, cellPhone: PHI.phone, enable: true },
  { kind: 'link', guardianKey: PHI_KEY, patientId: PHI.patientId, accessLevel: 'full' },
  { kind: 'unlink', guardianKey: PHI_KEY, patientId: PHI.patientId },
  { kind: 'disable-account', guardianKey: PHI_KEY },
  { kind: 'send-welcome', guardianKey: PHI_KEY, trigger: 'created', covers: [`email:${PHI.newEmail}`] },
];

describe('replay output', () => {
  test('each op by kind and masked target', () => {
    const p = m.patient(PHI.patientId);
    expect(ops.map((op) => describeOp(op, m))).toEqual([
      { kind: 'create-account', target: 'account a***@example.org, A. T., cell ***01' },
      { kind: 'update-account', target: 'account: re-enable, email → a***@example.org, name → A. T., cell → ***01' },
      { kind: 'link', target: `${p} (full access)` },
      { kind: 'unlink', target: p },
      { kind: 'disable-account', target: 'account (no dependents left; never deleted)' },
      { kind: 'send-welcome', target: 'welcome, trigger created (also answers email:a***@example.org)' },
    ]);
    expect(describeOp(ops[2]!, createMasker(refs, { unmask: true })).target).toBe(`${PHI.patientId} (full access)`);
  });

  test('a dry run lists ops, holds and notes, and says nothing changed; no patient data', () => {
    const planned = {
      key: PHI_KEY,
      ops,
      holds: [{ rule: 'R19', reason: `login email of an active account changed (${PHI.email} → a***@example.org): confirm with the parent` }, { rule: 'R09', reason: 'no email on file', patientId: PHI.patientId }],
      notes: ['observed from the ledger only'],
    };
    const report = { dryRun: true, jobs: [dryRunJobItem(failedJob, planned, m)], inbox: [inboxItem(rejectedRow, { mapsNow: stillRejected('ERR_MAPPING_MISSING_FIELD', 'patient id (PID-3) is empty', m) })] };
    const text = formatReplay(report);
    expect(text).toMatch(/^job:12 {2}guardian g_[0-9a-f]{16} \(e:a\*\*\*@example\.org\/A\.T\.\/\*\*\*\*-\*\*-\*\*\), was failed: would run 6 op\(s\):/);
    expect(text).toMatch(/\n {4}create-account {2}account a\*\*\*@example\.org, A\. T\., cell \*\*\*01\n/);
    expect(text).toMatch(/\n {4}hold R19 +login email/);
    expect(text).toMatch(/\n {4}hold R09 +no email on file \(p_[0-9a-f]{16}\)/);
    expect(text).toMatch(/inbox:7 {2}source adt-feed, control id MSG0007: would go back to the inbox queue, but it would be rejected again: ERR_MAPPING_MISSING_FIELD/);
    expect(text).toMatch(/Dry run: nothing was changed/);
    expect(phiIn(text)).toEqual([]);
    expect(phiIn(JSON.stringify(report))).toEqual([]);
  });

  test('a dry run with nothing to do, a hand-over, and an inbox row that maps now', () => {
    const text = formatReplay({
      dryRun: true,
      jobs: [
        dryRunJobItem(failedJob, { key: PHI_KEY, ops: [], holds: [], notes: [] }, m),
        dryRunJobItem(failedJob, { key: PHI_KEY, ops: [], holds: [], handOverTo: 'c:C777', notes: [] }, m),
      ],
      inbox: [inboxItem(rejectedRow, { mapsNow: { ok: true, changes: 3, ignored: false } })],
    });
    expect(text).toMatch(/was failed: would run no op \(nothing to do\)/);
    expect(text).toMatch(/would hand the ledger over to c:C\*\*\*; no portal call/);
    expect(text).toMatch(/it maps now \(3 change\(s\)\)/);
  });

  test('a replay says what was re-enqueued and reprocessed', () => {
    const text = formatReplay({ dryRun: false, jobs: [requeuedJobItem(failedJob, m)], inbox: [inboxItem(rejectedRow, { reprocessed: true })] });
    expect(text).toMatch(/^job:12 {2}guardian g_[0-9a-f]{16} .*, was failed: key re-enqueued/);
    expect(text).toMatch(/inbox:7 .*: back in the inbox queue; the ingest worker maps it again$/);
    expect(phiIn(text)).toEqual([]);
  });
});
