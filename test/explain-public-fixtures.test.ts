import path from 'node:path';
import type { ExplainJson } from '../src/explain/report';
import { runCli } from './helpers/cli';
import { publicFixtures } from './helpers/fixtures';

const root = path.resolve(__dirname, '..');
const hl7 = publicFixtures('hl7');
const fhir = publicFixtures('fhir');
const sweep = (cond: unknown): jest.Describe => (cond ? describe : describe.skip);

// Issue #2: explain over every real public sample: each message accepted with a sensible snapshot or rejected
// with a one-line reason, never a crash or a stack trace. Skips only when ../shared is absent and
// REQUIRE_FIXTURES is not set (publicFixtures throws when it is).
sweep(hl7)('mappings explain over the public HL7 v2 samples', () => {
  test.each(hl7?.files.map((f) => [path.basename(f), f]) ?? [])('%s', async (_name, file) => {
    const r = await runCli('mappings', 'explain', '-m', path.join(root, 'mappings/hl7v2-default.yaml'), '--as-of', '2026-11-23', '--json', file);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out) as ExplainJson;
    expect(json.inputs.length).toBeGreaterThan(0);
    for (const input of json.inputs) {
      if (input.status === 'rejected') {
        expect(input.error).toMatch(/^[^\n]{5,300}$/);
        expect(input.error).not.toMatch(/unexpected error|TypeError|undefined|\bat .*\.ts:\d+/);
      }
    }
    // Every decision names a patient that was accepted from this file, with a rule and a reason in words.
    for (const d of json.decisions) {
      expect(d.rule).toMatch(/^R\d{2}$/);
      expect(d.reason.length).toBeGreaterThan(5);
    }
  });
});

sweep(fhir)('mappings explain over the public FHIR samples', () => {
  test.each(fhir?.files.filter((f) => f.endsWith('.json')).map((f) => [path.basename(f), f]) ?? [])('%s', async (_name, file) => {
    const r = await runCli('mappings', 'explain', '-m', path.join(root, 'mappings/fhir-default.yaml'), '--as-of', '2026-11-23', '--json', file);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out) as ExplainJson;
    for (const input of json.inputs) {
      if (input.status === 'rejected') {
        expect(input.error).toMatch(/^[^\n]{5,300}$/);
        expect(input.error).not.toMatch(/unexpected error|TypeError|\bat .*\.ts:\d+/);
      }
    }
  });
});
