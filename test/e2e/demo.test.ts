/**
 * `portal-bridge demo`: every bundled example case through the daemon's composition root, against a sandbox
 * portal over HTTP, in-process. The result must be what each case's expected.yaml says.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { demoCommand } from '../../src/cli/demo';
import { bundledCases } from '../../src/cli/demo-run';
import type { CaseSummary } from '../../src/cli/demo-summary';
import { runCli } from '../helpers/cli';

jest.setTimeout(120_000);

const demoDirs = (): string[] => readdirSync(os.tmpdir()).filter((n) => n.startsWith('portal-bridge-demo-'));

test('demo --json: every case ends as expected.yaml says; accounts, welcomes, holds, conflicts; exit 0; nothing left behind', async () => {
  const before = new Set(demoDirs());
  const r = await runCli('demo', '--json');
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  const result = JSON.parse(r.out) as { asOf: string; matchesExpected: boolean; totals: Record<string, number>; cases: CaseSummary[] };
  expect(result.matchesExpected).toBe(true);
  expect(result.asOf).toBe('2026-01-15');
  const byName = new Map(result.cases.map((c) => [c.name, c]));
  expect([...byName.keys()]).toEqual(bundledCases().map((c) => c.name));
  for (const c of result.cases) expect({ name: c.name, differences: c.differences }).toEqual({ name: c.name, differences: [] });

  const siblings = byName.get('siblings-one-parent')!;
  expect(siblings.accounts).toEqual([
    expect.objectContaining({ person: 'Ada Testperson', email: 'ada.testperson@example.org', guardianKey: 'c:C501', welcomes: 1, dependents: [{ patientId: 'P1001', accessLevel: 'full' }, { patientId: 'P1002', accessLevel: 'full' }] }),
  ]);
  expect(siblings.welcomes).toBe(1);
  // Staff-created (R17): linked, nothing emailed.
  expect(byName.get('staff-created')!.accounts).toEqual([expect.objectContaining({ welcomes: 0 })]);
  expect(byName.get('staff-created')!.welcomes).toBe(0);
  // R12: no account for either parent, the conflict with its reason in words.
  const shared = byName.get('two-parents-shared-email')!;
  expect(shared.accounts).toEqual([]);
  expect(shared.conflicts).toEqual([
    expect.objectContaining({ emailKey: 'family.testperson@example.org', people: ['Ada Testperson', 'Ben Testperson'], patientIds: ['P1001', 'P1002'], reason: expect.stringMatching(/parents cannot share an email/) }),
  ]);
  expect(byName.get('r09-no-email')!.holds).toEqual([{ person: 'Ada Testperson', patientId: 'P1001', outcome: 'hold', rule: 'R09', reason: 'no email on file' }]);
  expect(byName.get('r07-declined')!.noAccess).toEqual([expect.objectContaining({ outcome: 'skip', rule: 'R07', reason: 'parent declined' })]);
  expect(byName.get('rejected-message')!.rejected.map((x) => x.code)).toEqual(['ERR_MAPPING_MISSING_FIELD', 'ERR_MAPPING_UNSUPPORTED_EVENT']);

  // One welcome per account, except the staff-created one.
  const accounts = result.cases.flatMap((c) => c.accounts);
  expect(accounts.filter((a) => a.welcomes !== 1).map((a) => a.email)).toEqual(['ada.testperson@example.org']);
  expect(result.totals).toMatchObject({ cases: byName.size, accounts: accounts.length, welcomes: accounts.length - 1 });
  expect(demoDirs().filter((d) => !before.has(d))).toEqual([]);
});

test('demo text, --keep: a readable summary per case and the folder kept (two cases)', async () => {
  const cases = bundledCases().filter((c) => ['r09-no-email', 'siblings-one-parent'].includes(c.name));
  let out = '';
  const code = await demoCommand({ keep: true }, { out: (t) => (out += `${t}\n`), err: (t) => (out += `${t}\n`) }, cases);
  const kept = /Kept in (\S+) /.exec(out)?.[1];
  try {
    expect(code).toBe(0);
    expect(out).toMatch(/▸ siblings-one-parent — Siblings/);
    expect(out).toMatch(/account {3}Ada Testperson <ada\.testperson@example\.org> → P1001, P1002 · invited · 1 welcome sent/);
    expect(out).toMatch(/hold {6}Ada Testperson for P1001 \(R09\): no email on file/);
    expect(out).toMatch(/2 cases: 1 account, 1 welcome sent, 1 held for staff/);
    expect(out).toMatch(/Every case ended as its expected\.yaml says\./);
    expect(kept).toBeDefined();
    expect(existsSync(path.join(kept!, 'siblings-one-parent', 'portal-bridge.db'))).toBe(true);
    expect(existsSync(path.join(kept!, 'siblings-one-parent', 'daemon.log'))).toBe(true);
  } finally {
    if (kept !== undefined) rmSync(kept, { recursive: true, force: true });
  }
});
