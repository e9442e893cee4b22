import { execFile } from 'node:child_process';
import path from 'node:path';

// STYLE rule 1: src/core and connectors/*/to-snapshot.ts do no I/O. The lint rule is the guard; this proves the
// guard bites (and does not bite elsewhere). ESLint runs as the CLI (its ESM config cannot load inside jest's VM).
jest.setTimeout(60_000);
const root = path.resolve(__dirname, '..');
const eslintBin = path.join(root, 'node_modules', 'eslint', 'bin', 'eslint.js');

function ruleIds(file: string, code: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, [eslintBin, '--format', 'json', '--stdin', '--stdin-filename', file], { cwd: root }, (err, stdout) => {
      try {
        const [result] = JSON.parse(stdout) as { messages: { ruleId: string | null; message: string }[] }[];
        resolve((result?.messages ?? []).map((m) => m.ruleId ?? m.message));
      } catch {
        reject(err ?? new Error(`eslint printed no JSON: ${stdout}`));
      }
    });
    child.stdin?.end(code);
  });
}

test.each([
  ['src/core/x.ts', "import { readFileSync } from 'node:fs';\nexport const a = readFileSync;\n", 'no-restricted-imports'],
  ['src/core/mapping/x.ts', "import knex from 'knex';\nexport const a = knex;\n", 'no-restricted-imports'],
  ['connectors/hl7v2/to-snapshot.ts', "import net from 'node:net';\nexport const a = net;\n", 'no-restricted-imports'],
  ['src/core/x.ts', 'export const now = Date.now();\n', 'no-restricted-properties'],
  ['src/core/x.ts', 'export const env = process.env.X;\n', 'no-restricted-properties'],
  ['src/core/x.ts', 'export const d = new Date();\n', 'no-restricted-syntax'],
])('%s: %p is refused (%s)', async (file, code, rule) => {
  expect(await ruleIds(file, code)).toContain(rule);
});

test('only src/config/load.ts reads the environment', async () => {
  expect(await ruleIds('src/cli/x.ts', 'export const env = process.env.X;\n')).toContain('no-restricted-properties');
  expect(await ruleIds('src/config/load.ts', 'export const env = process.env.X;\n')).not.toContain('no-restricted-properties');
});

test('the same code is allowed outside the pure core', async () => {
  expect(await ruleIds('src/cli/x.ts', "import { readFileSync } from 'node:fs';\nexport const a = readFileSync;\nexport const now = Date.now();\n")).toEqual([]);
});
