import type { Command } from 'commander';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { compareCase, parseExpected } from '../explain/expected-case';
import { explain, toJson } from '../explain/report';
import { detectFormat } from '../explain/run-inputs';
import type { Mapping } from '../core/mapping/types';
import { EXIT, packageRoot, UsageError, type CliIo, type ExitCode } from './io';
import { readMapping } from './read-mapping';

export interface CaseResult {
  readonly name: string;
  readonly description?: string;
  readonly passed: boolean;
  readonly problems: readonly string[];
}

/**
 * Runs the analyst's example cases under `dir`: each sub-folder holds `input.*` file(s) (applied in name order)
 * and `expected.yaml`. A case's mapping is, in order: its `mapping:` (relative to the case), `--mapping`, or the
 * bundled default for its input format.
 */
export function runCases(dir: string, opts: { mapping?: string }): CaseResult[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`${dir} is not a directory of example cases`);
  const cases = readdirSync(dir).filter((n) => !n.startsWith('.') && statSync(path.join(dir, n)).isDirectory()).sort();
  if (cases.length === 0) throw new UsageError(`${dir} has no case folders (each needs input.* and expected.yaml)`);
  const mappings = new Map<string, Mapping>();
  const mappingAt = (file: string): Mapping => {
    const resolved = path.resolve(file);
    let m = mappings.get(resolved);
    if (m === undefined) {
      m = readMapping(file);
      mappings.set(resolved, m);
    }
    return m;
  };
  return cases.map((name) => runCase(path.join(dir, name), name, opts, mappingAt));
}

function runCase(caseDir: string, name: string, opts: { mapping?: string }, mappingAt: (file: string) => Mapping): CaseResult {
  const expectedFile = path.join(caseDir, 'expected.yaml');
  if (!existsSync(expectedFile)) return { name, passed: false, problems: [`no expected.yaml in ${caseDir}`] };
  const expected = parseExpected(readFileSync(expectedFile, 'utf8'));
  if (!expected.ok) return { name, passed: false, problems: expected.problems.map((p) => `${expectedFile}: ${p}`) };
  const inputFiles = readdirSync(caseDir).filter((n) => n.startsWith('input')).sort().map((n) => path.join(caseDir, n));
  if (inputFiles.length === 0) return { name, passed: false, problems: [`no input.* file in ${caseDir}`] };
  const inputs = inputFiles.map((file) => ({ file: path.relative(caseDir, file), text: readFileSync(file, 'utf8') }));
  const firstInput = inputs[0];
  const format = firstInput === undefined ? 'hl7v2' : detectFormat(firstInput.text);
  const mappingFile = expected.value.mapping !== undefined ? path.resolve(caseDir, expected.value.mapping) : (opts.mapping ?? path.join(packageRoot(), 'mappings', `${format}-default.yaml`));
  let mapping: Mapping;
  try {
    mapping = mappingAt(mappingFile);
  } catch (e) {
    return { name, passed: false, problems: [e instanceof Error ? e.message : String(e)] };
  }
  const problems = compareCase(expected.value, toJson(explain(inputs, mapping, expected.value.asOf)));
  return { name, ...(expected.value.description !== undefined && { description: expected.value.description }), passed: problems.length === 0, problems };
}

/** `portal-bridge mappings test <dir>`: a pass/fail line per case, the differences of failures, and the total. */
export function testCommand(dir: string, opts: { mapping?: string; json?: boolean }, io: CliIo): ExitCode {
  const results = runCases(dir, opts);
  const failed = results.filter((r) => !r.passed).length;
  if (opts.json === true) {
    io.out(JSON.stringify({ passed: results.length - failed, failed, cases: results }, null, 2));
  } else {
    for (const r of results) {
      io.out(`${r.passed ? 'PASS' : 'FAIL'}  ${r.name}${r.description !== undefined ? ` — ${r.description}` : ''}`);
      for (const p of r.problems) io.out(`        ${p}`);
    }
    io.out(`\n${results.length - failed} of ${results.length} case(s) passed${failed > 0 ? `; ${failed} failed` : ''}`);
  }
  return failed === 0 ? EXIT.ok : EXIT.failure;
}

export function registerTest(mappings: Command, io: CliIo, done: (code: ExitCode) => void): void {
  mappings
    .command('test')
    .description("run the analysts' example cases: <dir>/<case>/input.* + expected.yaml (accounts, conflicts, decisions)")
    .argument('<dir>', 'folder of case folders, e.g. mappings/examples')
    .option('-m, --mapping <file>', "mapping for cases that do not name one (default: the bundled <format>-default.yaml)")
    .option('--json', 'print {passed, failed, cases:[{name, passed, problems}]}')
    .addHelpText(
      'after',
      `
expected.yaml:
  description: Two siblings under one parent
  asOf: 2026-01-15                 # ages are computed on this date
  accounts:                        # every account wanted, with its dependents
    - email: ada.parent@example.org
      dependents: [P1001, P1002]   # or {patientId: P1003, accessLevel: limited}
  conflicts: []                    # - {emailKey: shared@example.org, patientIds: [P1]}
  decisions:                       # every decision: patient, contact "Given Family", outcome, rule
    - {patientId: P1001, contact: Ada Parent, outcome: provision, rule: R20}

Examples:
  $ portal-bridge mappings test mappings/examples
  $ portal-bridge mappings test --mapping my-site.yaml my-cases/

Exit status: 0 all cases pass, 1 a case failed, 2 bad folder or mapping.`,
    )
    .action((dir: string, opts: { mapping?: string; json?: boolean }) => done(testCommand(dir, opts, io)));
}
