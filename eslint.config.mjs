// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The pure core and each connector's message → snapshot translation must not do I/O (STYLE.md rule 1):
// no database, logger, HTTP, file system, network, cron or retry library, and no ambient clock or randomness.
const IO_MODULES = [
  'knex', 'pg', 'better-sqlite3', 'winston', 'axios', 'fastify', 'node-cron', 'p-retry', 'fhir-kit-client',
  '@medplum/hl7', 'fs', 'fs/promises', 'node:fs', 'node:fs/promises', 'net', 'node:net', 'tls', 'node:tls',
  'http', 'node:http', 'https', 'node:https', 'child_process', 'node:child_process', 'dgram', 'node:dgram',
  'worker_threads', 'node:worker_threads', 'process', 'node:process',
];
const pureRules = {
  'no-restricted-imports': ['error', {
    paths: IO_MODULES.map((name) => ({ name, message: 'src/core and to-snapshot.ts are pure: do I/O at the edges and pass results in.' })),
    patterns: [{ group: ['**/store/**', '**/portal/**', '**/log', '**/config/load'], message: 'the pure core may not reach I/O modules' }],
  }],
  'no-restricted-properties': ['error',
    { object: 'Date', property: 'now', message: 'pass the clock in (asOf / now parameter)' },
    { object: 'Math', property: 'random', message: 'pass randomness in' },
    { object: 'process', property: 'env', message: 'config is passed in; only src/config/load.ts reads the environment' },
  ],
  'no-restricted-syntax': ['error',
    { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'new Date() reads the clock: pass asOf / now in' },
  ],
  '@typescript-eslint/no-explicit-any': 'error',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bin/**', 'jest.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  // DESIGN §10: src/config/load.ts is the only reader of the environment.
  {
    files: ['src/**/*.ts', 'connectors/**/*.ts'],
    ignores: ['**/*.test.ts', 'src/config/load.ts'],
    rules: { 'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'read settings from the loaded config (src/config/load.ts is the only reader of process.env)' }] },
  },
  { files: ['src/core/**/*.ts', 'connectors/*/to-snapshot.ts', 'connectors/*/to-snapshot/**/*.ts'], ignores: ['**/*.test.ts'], rules: pureRules },
  { files: ['**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts'], rules: { '@typescript-eslint/no-non-null-assertion': 'off' } },
);
