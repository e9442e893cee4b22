import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigSchema } from './schema';
import { formatConfigProblems, loadConfig, type ConfigProblem, type LoadConfigOptions } from './load';

const repo = path.resolve(__dirname, '..', '..');
const REF_KEY = 'a-ref-key-of-at-least-16-chars';
let dirs: string[] = [];

/** A scratch working directory with the given files (paths relative to it). */
function workdir(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pb-config-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function ok(options: LoadConfigOptions): Extract<ReturnType<typeof loadConfig>, { ok: true }> {
  const r = loadConfig({ env: {}, ...options });
  if (!r.ok) throw new Error(`expected a valid config:\n${formatConfigProblems(r.problems)}`);
  return r;
}

function problems(options: LoadConfigOptions): readonly ConfigProblem[] {
  const r = loadConfig({ env: {}, ...options });
  if (r.ok) throw new Error('expected problems');
  return r.problems;
}

describe('loadConfig', () => {
  test('with nothing set: the bundled defaults, and warnings about what to set before production', () => {
    const cwd = workdir();
    const r = ok({ cwd });
    const { log, ...rest } = r.config;
    const { log: defaultLog, ...defaults } = ConfigSchema.parse({});
    expect(rest).toEqual({ ...defaults, connectorSecrets: {} });
    expect(log).toEqual({ ...defaultLog, refKey: expect.stringMatching(/^[0-9a-f]{64}$/), refKeySource: 'derived' });
    expect(r.files).toEqual([path.join(repo, 'config', 'default.yaml')]);
    expect(r.warnings.join('\n')).toMatch(/log\.refKey is not set/);
    expect(r.warnings.join('\n')).toMatch(/practice\.id is "default"/);
  });

  test('the derived ref key is stable per database location; the environment one wins', () => {
    const cwd = workdir();
    const a = ok({ cwd }).config.log.refKey;
    expect(ok({ cwd }).config.log.refKey).toBe(a);
    expect(ok({ cwd, flags: { 'database.file': './other.db' } }).config.log.refKey).not.toBe(a);
    expect(ok({ cwd, flags: { 'practice.id': 'elsewhere' } }).config.log.refKey).not.toBe(a);
    const fromEnv = ok({ cwd, env: { PORTAL_BRIDGE_LOG_REF_KEY: REF_KEY } });
    expect(fromEnv.config.log).toMatchObject({ refKey: REF_KEY, refKeySource: 'env' });
    expect(fromEnv.warnings.join('\n')).not.toMatch(/refKey/);
  });

  test('precedence: default.yaml → <env>.yaml → --config files → environment → flags', () => {
    const cwd = workdir({
      'config/default.yaml': 'jobs: { concurrency: 1, leaseMs: 5000 }\nlog: { level: warn }\n',
      'config/staging.yaml': 'jobs: { concurrency: 2 }\nretention: { failedDays: 90 }\n',
      'extra.yaml': 'jobs: { concurrency: 3 }\nadmin: { port: 9999 }\n',
    });
    const env = { PORTAL_BRIDGE_ENV: 'staging', PORTAL_BRIDGE_JOBS_CONCURRENCY: '4', PORTAL_BRIDGE_ADMIN_PORT: '9001' };
    const all = ok({ cwd, env, files: ['extra.yaml'], flags: { 'jobs.concurrency': '5', 'log.level': undefined } });
    expect(all.files).toEqual([path.join('config', 'default.yaml'), path.join('config', 'staging.yaml'), 'extra.yaml']);
    // Maps merge key by key: each setting comes from the last source that set it; the rest are schema defaults.
    expect(all.config.jobs).toMatchObject({ concurrency: 5, leaseMs: 5000, maxAttempts: 8 });
    expect(all.config.log.level).toBe('warn');
    expect(all.config.retention).toEqual({ processedInboxDays: 30, failedDays: 90 });
    expect(all.config.admin.port).toBe(9001);
    expect(ok({ cwd, env, files: ['extra.yaml'] }).config.jobs.concurrency).toBe(4);
    expect(ok({ cwd, env: { PORTAL_BRIDGE_ENV: 'staging' }, files: ['extra.yaml'] }).config.jobs.concurrency).toBe(3);
    expect(ok({ cwd, env: { PORTAL_BRIDGE_ENV: 'staging' } }).config.jobs.concurrency).toBe(2);
    expect(ok({ cwd }).config.jobs.concurrency).toBe(1);
  });

  test('PORTAL_BRIDGE_ENV chooses the environment file before NODE_ENV; null puts a default back', () => {
    const cwd = workdir({ 'config/test.yaml': 'jobs: { concurrency: 7 }\n', 'config/qa.yaml': 'jobs: { concurrency: 9, maxAttempts: null }\n', 'more.yaml': 'jobs: { maxAttempts: 2 }\n' });
    expect(ok({ cwd, env: { NODE_ENV: 'test' } }).config.jobs.concurrency).toBe(7);
    expect(ok({ cwd, env: { NODE_ENV: 'test', PORTAL_BRIDGE_ENV: 'qa' } }).config.jobs.concurrency).toBe(9);
    expect(ok({ cwd, env: { NODE_ENV: 'nothing-here' } }).config.jobs.concurrency).toBe(4);
    expect(ok({ cwd, env: { PORTAL_BRIDGE_ENV: 'qa' }, flags: { 'jobs.maxAttempts': 3 } }).config.jobs.maxAttempts).toBe(3);
    expect(ok({ cwd, env: { PORTAL_BRIDGE_ENV: 'qa' } }).config.jobs.maxAttempts).toBe(8);
  });

  test('every problem at once: two bad file values and one bad variable, each located', () => {
    const cwd = workdir({
      'config/default.yaml': `practice:
  id: clinic-1
jobs:
  concurrency: 0
  backoff:
    factor: 2
schedules:
  retrySweep: "61 * * * *"
`,
    });
    const found = problems({ cwd, env: { PORTAL_BRIDGE_ADMIN_PORT: 'ninety' } });
    expect(found).toEqual([
      { source: 'file', file: path.join('config', 'default.yaml'), line: 4, column: 16, at: 'jobs.concurrency', message: expect.stringMatching(/>0|>=1|too small/i) },
      { source: 'file', file: path.join('config', 'default.yaml'), line: 8, column: 15, at: 'schedules.retrySweep', message: expect.stringMatching(/^not a cron expression/) },
      { source: 'env', variable: 'PORTAL_BRIDGE_ADMIN_PORT', at: 'admin.port', message: expect.stringMatching(/expected number/) },
    ]);
    expect(formatConfigProblems(found).split('\n')).toEqual([
      expect.stringMatching(/^config[/\\]default\.yaml:4:16: jobs\.concurrency: /),
      expect.stringMatching(/^config[/\\]default\.yaml:8:15: schedules\.retrySweep: not a cron expression/),
      expect.stringMatching(/^env PORTAL_BRIDGE_ADMIN_PORT: admin\.port: /),
    ]);
  });

  test('a problem points at the file that set the value, not at an earlier one', () => {
    const cwd = workdir({ 'a.yaml': 'guards:\n  massUnlinkShare: 0.5\n', 'b.yaml': '# b\nguards: { massUnlinkShare: 3 }\n' });
    expect(problems({ cwd, files: ['a.yaml', 'b.yaml'] })).toEqual([
      { source: 'file', file: 'b.yaml', line: 2, column: 28, at: 'guards.massUnlinkShare', message: expect.any(String) },
    ]);
    // Overridden by a flag: the flag is named.
    expect(problems({ cwd, files: ['a.yaml'], flags: { 'guards.massUnlinkShare': -1 } })).toEqual([
      { source: 'flag', flag: 'guards.massUnlinkShare', at: 'guards.massUnlinkShare', message: expect.any(String) },
    ]);
  });

  test('unknown keys are located at the key, with a suggestion', () => {
    const cwd = workdir({ 'c.yaml': 'jobs:\n  concurency: 2\nlogs: {}\n' });
    expect(problems({ cwd, files: ['c.yaml'] })).toEqual([
      { source: 'file', file: 'c.yaml', line: 2, column: 3, at: 'jobs.concurency', message: 'unknown key "concurency" (did you mean "concurrency"?)' },
      { source: 'file', file: 'c.yaml', line: 3, column: 1, at: 'logs', message: 'unknown key "logs" (did you mean "log"?)' },
    ]);
  });

  test('unknown PORTAL_BRIDGE_ variables are problems (typo protection); empty ones are unset', () => {
    const cwd = workdir();
    const found = problems({ cwd, env: { PORTAL_BRIDGE_JOBS_CONCURENCY: '3', PORTAL_BRIDGE_NOPE: 'x', PORTAL_BRIDGE_LOG_LEVEL: '', PORTAL_BRIDGE_CONNECTORS: '[]', OTHER_THING: '1' } });
    expect(found).toEqual([
      { source: 'env', variable: 'PORTAL_BRIDGE_CONNECTORS', at: 'connectors', message: 'connectors is set in a config file, not the environment' },
      { source: 'env', variable: 'PORTAL_BRIDGE_JOBS_CONCURENCY', at: '', message: 'unknown variable (did you mean PORTAL_BRIDGE_JOBS_CONCURRENCY?)' },
      { source: 'env', variable: 'PORTAL_BRIDGE_NOPE', at: '', message: 'unknown variable' },
    ]);
    expect(ok({ cwd, env: { PORTAL_BRIDGE_ENV: 'x', PORTAL_BRIDGE_LOG_LEVEL: '' } }).config.log.level).toBe('info');
  });

  test('unknown flags are problems', () => {
    expect(problems({ cwd: workdir(), flags: { 'admin.prot': 1 } })).toEqual([{ source: 'flag', flag: 'admin.prot', at: 'admin.prot', message: 'unknown setting (did you mean admin.port?)' }]);
  });

  test('secrets are refused from files and flags, naming the variable; accepted from the environment', () => {
    const cwd = workdir({
      'config/default.yaml': `portal:
  kind: rest
  baseUrl: https://portal.example.org
  apiToken: abc123
admin:
  token: 0123456789abcdef0123
log:
  refKey: 0123456789abcdef0123
database:
  url: postgres://bridge:hunter2@db:5432/pb
`,
    });
    const found = problems({ cwd, flags: { 'admin.token': 'x'.repeat(20), 'database.url': 'postgres://u@h/db?password=p' } });
    expect(found.map((p) => [p.source, p.line, p.at, p.message])).toEqual([
      // The refused token leaves a rest portal without one: reported too, at the setting that asks for it.
      ['file', 2, 'portal.kind', 'a rest portal needs PORTAL_BRIDGE_PORTAL_API_TOKEN in the environment'],
      ['file', 4, 'portal.apiToken', 'secrets are not read from files: set PORTAL_BRIDGE_PORTAL_API_TOKEN in the environment instead'],
      ['file', 6, 'admin.token', 'secrets are not read from files: set PORTAL_BRIDGE_ADMIN_TOKEN in the environment instead'],
      ['file', 8, 'log.refKey', 'secrets are not read from files: set PORTAL_BRIDGE_LOG_REF_KEY in the environment instead'],
      ['file', 10, 'database.url', expect.stringMatching(/^no password in a file or flag: set PORTAL_BRIDGE_DATABASE_URL \(or PGPASSWORD\)/)],
      ['flag', undefined, 'admin.token', expect.stringMatching(/not read from the command line: set PORTAL_BRIDGE_ADMIN_TOKEN/)],
      ['flag', undefined, 'database.url', expect.stringMatching(/^no password in a file or flag/)],
    ]);
    expect(JSON.stringify(found)).not.toMatch(/hunter2|abc123|0123456789abcdef/);

    const fine = workdir({ 'config/default.yaml': 'portal: { kind: rest, baseUrl: "https://portal.example.org" }\ndatabase: { url: "postgres://bridge@db:5432/pb" }\n' });
    const env = { PORTAL_BRIDGE_PORTAL_API_TOKEN: 'tok', PORTAL_BRIDGE_ADMIN_TOKEN: 'admin-token-0123456789', PORTAL_BRIDGE_LOG_REF_KEY: REF_KEY };
    expect(ok({ cwd: fine, env }).config).toMatchObject({ portal: { apiToken: 'tok' }, admin: { token: 'admin-token-0123456789' }, database: { url: 'postgres://bridge@db:5432/pb' } });
    expect(ok({ cwd: fine, env: { ...env, PORTAL_BRIDGE_DATABASE_URL: 'postgres://bridge:pw@db2:5432/pb' } }).config.database.url).toBe('postgres://bridge:pw@db2:5432/pb');
  });

  test('production refuses to start without PORTAL_BRIDGE_LOG_REF_KEY', () => {
    expect(problems({ cwd: workdir(), env: { NODE_ENV: 'production' } })).toEqual([
      { source: 'env', variable: 'PORTAL_BRIDGE_LOG_REF_KEY', at: 'log.refKey', message: expect.stringMatching(/^required in production/) },
    ]);
    expect(ok({ cwd: workdir(), env: { NODE_ENV: 'production', PORTAL_BRIDGE_LOG_REF_KEY: REF_KEY } }).config.log.refKeySource).toBe('env');
  });

  test('config/production.example.yaml is valid once its secrets are in the environment', () => {
    const cwd = workdir();
    mkdirSync(path.join(cwd, 'config'));
    copyFileSync(path.join(repo, 'config', 'production.example.yaml'), path.join(cwd, 'config', 'production.yaml'));
    const env = { PORTAL_BRIDGE_ENV: 'production', PORTAL_BRIDGE_PORTAL_API_TOKEN: 'tok', PORTAL_BRIDGE_ADMIN_TOKEN: 'admin-token-0123456789', PORTAL_BRIDGE_LOG_REF_KEY: REF_KEY };
    const r = ok({ cwd, env });
    expect(r.config).toMatchObject({ practice: { id: 'riverside-pediatrics' }, portal: { kind: 'rest' }, admin: { host: '0.0.0.0' } });
    expect(r.warnings).toEqual([]);
    expect(problems({ cwd, env: { ...env, PORTAL_BRIDGE_ADMIN_TOKEN: undefined } })).toEqual([
      expect.objectContaining({ source: 'file', file: path.join('config', 'production.yaml'), at: 'admin.host', line: expect.any(Number) }),
    ]);
  });

  test('file-level problems: YAML syntax, not a map, an unreadable --config file', () => {
    const cwd = workdir({ 'bad.yaml': 'jobs:\n  concurrency: [1\n', 'list.yaml': '- a\n- b\n', 'dup.yaml': 'jobs: {}\njobs: {}\n' });
    const found = problems({ cwd, files: ['bad.yaml', 'list.yaml', 'dup.yaml', 'missing.yaml'] });
    expect(found.map((p) => [p.file, p.line !== undefined]).filter(([, located]) => located === false)).toEqual([['missing.yaml', false]]);
    expect(found.find((p) => p.file === 'missing.yaml')?.message).toBe('cannot read this file (ENOENT)');
    expect(found.find((p) => p.file === 'list.yaml')).toMatchObject({ line: 1, column: 1, message: expect.stringMatching(/map of sections/) });
    expect(found.find((p) => p.file === 'dup.yaml')?.message).toMatch(/unique/i);
    expect(found.some((p) => p.file === 'bad.yaml')).toBe(true);
  });

  test('connectors: a list from files, replaced (not merged) by a later file; options checked per kind with their defaults', () => {
    const cwd = workdir({
      'config/default.yaml': 'connectors:\n  - { kind: hl7v2-mllp, name: adt, port: 2575 }\n  - { kind: hl7v2-file, name: drop, dir: /in }\n',
      'one.yaml': 'connectors:\n  - { kind: hl7v2-file, name: drop, dir: /in }\n  - { kind: hl7v2-file, name: drop, dir: /in2 }\n',
      'two.yaml': [
        'connectors:',
        '  - { kind: hl7v2-mllp, name: a, port: 2575, maxMesageBytes: 10 }',
        '  - { kind: fhir-telepathy, name: b }',
        '  - { kind: hl7v2-mllp, name: "bad name", port: 2575 }',
        '  - { kind: hl7v2-file, name: c }',
        '',
      ].join('\n'),
    });
    const { connectors } = ok({ cwd }).config;
    expect(connectors[0]).toEqual({ kind: 'hl7v2-mllp', name: 'adt', host: '127.0.0.1', port: 2575, maxMessageBytes: 4194304, idleTimeoutMs: 600000, maxConnections: 200, encoding: 'utf-8' });
    expect(connectors[1]).toEqual({ kind: 'hl7v2-file', name: 'drop', dir: '/in', extensions: ['.hl7', '.txt', '.dat', '.msg'], pollMs: 2000, settleMs: 1000, encoding: 'utf-8' });
    expect(problems({ cwd, files: ['one.yaml'] })).toEqual([{ source: 'file', file: 'one.yaml', line: 3, column: 31, at: 'connectors.1.name', message: 'another connector is already named "drop"' }]);
    expect(problems({ cwd, files: ['two.yaml'] }).map((p) => `${p.line}: ${p.at}: ${p.message}`)).toEqual([
      '2: connectors.0.maxMesageBytes: unknown key "maxMesageBytes"',
      '3: connectors.1.kind: unknown connector kind: expected one of hl7v2-mllp, hl7v2-file, fhir-poll, fhir-subscription',
      expect.stringMatching(/^4: connectors.2.name: a connector name is letters/),
      expect.stringMatching(/^5: connectors.3.dir: /),
    ]);
  });

  test('the effective config is frozen; odd keys stay data', () => {
    const cwd = workdir({ 'p.yaml': 'jobs:\n  __proto__: { polluted: true }\n' });
    const found = problems({ cwd, files: ['p.yaml'] });
    expect(found.map((p) => p.at)).toEqual(['jobs.__proto__']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    const { config } = ok({ cwd: workdir() });
    expect(Object.isFrozen(config.jobs.backoff)).toBe(true);
    expect(() => {
      (config.jobs as { concurrency: number }).concurrency = 99;
    }).toThrow(TypeError);
  });

  test('a bad environment name is a problem (it names a file)', () => {
    expect(problems({ cwd: workdir(), env: { PORTAL_BRIDGE_ENV: '../etc' } })).toEqual([
      { source: 'env', variable: 'PORTAL_BRIDGE_ENV', at: '', message: expect.stringMatching(/letters, digits/) },
    ]);
  });

  test('FHIR connectors: a subscription names an existing poller, and its secret comes from the environment only', () => {
    const yaml = [
      'mapping: { path: mappings/fhir-default.yaml }',
      'connectors:',
      '  - { kind: fhir-poll, name: ehr, baseUrl: "https://ehr.example.org/fhir" }',
      '  - { kind: fhir-subscription, name: ehr-hooks, poller: ehr, port: 8091 }',
      '  - { kind: fhir-subscription, name: lost, poller: nobody, port: 8092 }',
      '',
    ].join('\n');
    const cwd = workdir({ 'f.yaml': yaml });
    const found = problems({ cwd, files: ['f.yaml'], env: { PORTAL_BRIDGE_CONNECTOR_EHR_HOOKS_SECRET: 'short', PORTAL_BRIDGE_CONNECTOR_GHOST_SECRET: 'x'.repeat(20) } });
    expect(found.map((p) => `${p.variable ?? p.at}: ${p.message}`)).toEqual([expect.stringMatching(/^connectors\.2\.poller: no fhir-poll connector is named "nobody"/)]);
    const fixed = yaml.replace(/\n {2}- \{ kind: fhir-subscription, name: lost.*\n/, '\n');
    const cwd2 = workdir({ 'f.yaml': fixed });
    const secretProblems = problems({ cwd: cwd2, files: ['f.yaml'], env: { PORTAL_BRIDGE_CONNECTOR_EHR_HOOKS_SECRET: 'short', PORTAL_BRIDGE_CONNECTOR_GHOST_SECRET: 'x'.repeat(20) } });
    expect(secretProblems.map((p) => `${p.variable}: ${p.message}`).sort()).toEqual([
      'PORTAL_BRIDGE_CONNECTOR_EHR_HOOKS_SECRET: at least 16 characters (e.g. `openssl rand -hex 32`)',
      'PORTAL_BRIDGE_CONNECTOR_GHOST_SECRET: no fhir-subscription connector of this name needs a secret',
    ]);
    expect(problems({ cwd: cwd2, files: ['f.yaml'] }).map((p) => p.variable)).toEqual(['PORTAL_BRIDGE_CONNECTOR_EHR_HOOKS_SECRET']);
    const { config } = ok({ cwd: cwd2, files: ['f.yaml'], env: { PORTAL_BRIDGE_CONNECTOR_EHR_HOOKS_SECRET: 's'.repeat(32) } });
    expect(config.connectorSecrets).toEqual({ 'ehr-hooks': 's'.repeat(32) });
    expect(config.connectors[0]).toMatchObject({ kind: 'fhir-poll', relatedPersonSearch: 'search', overlapMs: 60000, resourceTypes: ['Patient', 'RelatedPerson', 'Appointment'] });
  });
});
