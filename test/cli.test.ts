import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExplainJson } from '../src/explain/report';
import { runCli } from './helpers/cli';

const root = path.resolve(__dirname, '..');
const hl7Mapping = path.join(root, 'mappings/hl7v2-default.yaml');
let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'pb-cli-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const family = [
  'MSH|^~\\&|EHR|CLINIC|PORTAL|CLINIC|20260110090000||ADT^A04^ADT_A01|MSG0001|P|2.5.1',
  'PID|1||P2001^^^CLINIC^MR||Sample^Theo||20190402|M',
  'NK1|1|Sample^Nora|MTH^Mother^HL70063||^NET^Internet^nora.sample@example.org~^PRN^CP^^1^202^5550141',
  'ZNK|1|J|N|N|N',
  'NK1|2|Sample^Omar|FTH^Father^HL70063||^NET^Internet^omar.sample@example.org',
  'ZNK|2|N|N|N|N',
].join('\r');

describe('portal-bridge CLI', () => {
  test('--help teaches the commands; no command is a usage error', async () => {
    const help = await runCli('--help');
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/mappings/);
    const sub = await runCli('mappings', 'explain', '--help');
    expect(sub.code).toBe(0);
    expect(sub.out).toMatch(/Examples:/);
    const none = await runCli('mappings', 'nonsense');
    expect(none.code).toBe(2);
  });

  test('mappings validate: the bundled mappings are valid', async () => {
    const r = await runCli('mappings', 'validate', hl7Mapping, path.join(root, 'mappings/fhir-default.yaml'));
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/hl7v2-default\.yaml: ok/);
  });

  test('mappings validate: exit 2 with every problem as file:line:column', async () => {
    const bad = path.join(tmp, 'bad.yaml');
    writeFileSync(bad, 'format: hl7v2\nname: bad\npatient:\n  id: PID-3[5=MR.1\n  email: PID-13.4\n  shoeSize: ZZZ-1\n');
    const r = await runCli('mappings', 'validate', bad);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/bad\.yaml:6:3: patient\.shoeSize: unknown key "shoeSize"/);
    const json = await runCli('mappings', 'validate', '--json', bad);
    expect(JSON.parse(json.out).files[0].problems.length).toBeGreaterThan(0);
    const missing = await runCli('mappings', 'validate', path.join(tmp, 'nope.yaml'));
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/nope\.yaml:1:1: cannot read the file \(ENOENT\)/);
  });

  test('mappings explain --json prints exactly one object of the documented shape', async () => {
    const input = path.join(tmp, 'family.hl7');
    writeFileSync(input, family);
    const r = await runCli('mappings', 'explain', '-m', hl7Mapping, '--as-of', '2026-01-15', '--json', input);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out) as ExplainJson;
    expect(Object.keys(json)).toEqual(['asOf', 'inputs', 'decisions', 'accounts', 'conflicts']);
    expect(json.asOf).toBe('2026-01-15');
    expect(json.inputs).toEqual([{ file: input, index: 0, controlId: 'MSG0001', status: 'accepted' }]);
    expect(json.decisions).toEqual([
      expect.objectContaining({ patientId: 'P2001', contact: { givenName: 'Nora', familyName: 'Sample', relationship: 'mother', authority: 'joint', email: 'nora.sample@example.org' }, outcome: 'provision', rule: 'R20' }),
      expect.objectContaining({ patientId: 'P2001', contact: expect.objectContaining({ givenName: 'Omar', authority: 'none' }), outcome: 'skip', rule: 'R04' }),
    ]);
    expect(json.accounts).toEqual([{ guardianKey: expect.any(String), email: 'nora.sample@example.org', dependents: [{ patientId: 'P2001', accessLevel: 'full' }] }]);
    expect(json.conflicts).toEqual([]);
  });

  test('mappings explain: human table, bad inputs named, bad --as-of refused', async () => {
    const input = path.join(tmp, 'family2.hl7');
    writeFileSync(input, family);
    const r = await runCli('mappings', 'explain', '-m', hl7Mapping, '--as-of', '2026-01-15', input);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/OUTCOME/);
    expect(r.out).toMatch(/nora\.sample@example\.org\s+provision\s+R20/);
    const missing = await runCli('mappings', 'explain', '-m', hl7Mapping, path.join(tmp, 'absent.hl7'));
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/cannot read input .*absent\.hl7: no such file/);
    const badDate = await runCli('mappings', 'explain', '-m', hl7Mapping, '--as-of', '2026-02-30', input);
    expect(badDate.code).toBe(2);
    expect(badDate.err).toMatch(/--as-of must be a date/);
  });

  test('mappings explain on an example case folder reads its messages, not its expected.yaml', async () => {
    const r = await runCli('mappings', 'explain', '-m', hl7Mapping, '--as-of', '2026-01-15', '--json', path.join(root, 'mappings/examples/siblings-one-parent'));
    const json = JSON.parse(r.out) as ExplainJson;
    expect(json.inputs.map((i) => [path.basename(i.file), i.status])).toEqual([['input-1.hl7', 'accepted'], ['input-2.hl7', 'accepted']]);
    expect(json.accounts).toEqual([{ guardianKey: 'c:C501', email: 'ada.testperson@example.org', dependents: [{ patientId: 'P1001', accessLevel: 'full' }, { patientId: 'P1002', accessLevel: 'full' }] }]);
  });

  test('mappings explain: a message the mapping rejects is listed with its reason, the rest still count', async () => {
    const input = path.join(tmp, 'mixed.hl7');
    const unsupported = 'MSH|^~\\&|EHR|CLINIC|PORTAL|CLINIC|20260110090500||ADT^A24^ADT_A24|MSG0002|P|2.5.1\rPID|1||P2002^^^CLINIC^MR||Sample^Ivy';
    writeFileSync(input, `${family}\r${unsupported}\r`);
    const r = await runCli('mappings', 'explain', '-m', hl7Mapping, '--as-of', '2026-01-15', '--json', input);
    const json = JSON.parse(r.out) as ExplainJson;
    expect(json.inputs.map((i) => i.status)).toEqual(['accepted', 'rejected']);
    expect(json.inputs[1]?.error).toMatch(/ADT\^A24/);
    expect(json.accounts).toHaveLength(1);
  });

  test('mappings test: the bundled example cases all pass', async () => {
    const r = await runCli('mappings', 'test', path.join(root, 'mappings/examples'));
    expect(r.out).toMatch(/case\(s\) passed/);
    expect(r.out).not.toMatch(/^FAIL/m);
    expect(r.code).toBe(0);
  });

  test('mappings test: a failing case prints its differences and exits 1', async () => {
    const dir = path.join(tmp, 'cases', 'wrong');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'input.hl7'), family);
    writeFileSync(path.join(dir, 'expected.yaml'), 'asOf: 2026-01-15\naccounts: []\nconflicts: []\ndecisions: []\n');
    const r = await runCli('mappings', 'test', path.join(tmp, 'cases'));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FAIL {2}wrong/);
    expect(r.out).toMatch(/unexpected account: nora\.sample@example\.org → P2001/);
    expect(r.out).toMatch(/unexpected decision: P2001 \/ Nora Sample: provision R20/);
  });
});
