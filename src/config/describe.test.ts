import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { describeConfig, formatConfigProblem, maskConfig } from './describe';
import { loadConfig } from './load';
import type { Config } from './schema';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pb-describe-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function load(env: Record<string, string>, yaml = ''): Config {
  writeFileSync(path.join(dir, 'c.yaml'), yaml);
  const r = loadConfig({ cwd: dir, env, files: ['c.yaml'] });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.config;
}

const SECRETS = {
  PORTAL_BRIDGE_PORTAL_API_TOKEN: 'portal-token-value-1',
  PORTAL_BRIDGE_ADMIN_TOKEN: 'admin-token-value-0123',
  PORTAL_BRIDGE_LOG_REF_KEY: 'ref-key-value-0123456789',
  PORTAL_BRIDGE_DATABASE_URL: 'postgres://bridge:db-password-1@db:5432/pb?sslmode=require',
};

describe('describeConfig', () => {
  test('prints the effective config with every secret masked', () => {
    const config = load(SECRETS, 'practice: { id: clinic-7 }\nportal: { kind: rest, baseUrl: "https://portal.example.org" }\n');
    const text = describeConfig(config);
    for (const secret of ['portal-token-value-1', 'admin-token-value-0123', 'ref-key-value-0123456789', 'db-password-1']) expect(text).not.toContain(secret);
    const shown = parse(text) as Record<string, Record<string, unknown>>;
    expect(shown['portal']).toMatchObject({ kind: 'rest', apiToken: '[secret from PORTAL_BRIDGE_PORTAL_API_TOKEN]' });
    expect(shown['admin']?.['token']).toBe('[secret from PORTAL_BRIDGE_ADMIN_TOKEN]');
    expect(shown['log']).toMatchObject({ refKey: '[secret from PORTAL_BRIDGE_LOG_REF_KEY]', refKeySource: 'env' });
    expect(shown['database']?.['url']).toBe('postgres://bridge:***@db:5432/pb?sslmode=require');
    expect(shown['jobs']).toEqual({ concurrency: 4, leaseMs: 60000, maxAttempts: 8, backoff: { baseMs: 1000, factor: 2, capMs: 600000 } });
    expect(text).not.toMatch(/^# warning/m);
  });

  test('warnings come first, as comments; unset secrets say so', () => {
    const text = describeConfig(load({}));
    expect(text).toMatch(/^# warning: log\.refKey is not set/);
    expect(text).toMatch(/^# warning: practice\.id is "default"/m);
    expect(text).toMatch(/^# warning: portal\.kind is sandbox/m);
    const shown = parse(text) as Record<string, Record<string, unknown>>;
    expect(shown['portal']?.['apiToken']).toBe('[not set]');
    expect(shown['log']?.['refKey']).toBe('[derived from practice.id and the database location]');
    expect(maskConfig(load({})).log).not.toHaveProperty('refKey', expect.stringMatching(/^[0-9a-f]{64}$/));
  });
});

describe('formatConfigProblem', () => {
  test('one line per source kind', () => {
    expect(formatConfigProblem({ source: 'file', file: 'config/x.yaml', line: 3, column: 5, at: 'jobs.concurrency', message: 'too small' })).toBe('config/x.yaml:3:5: jobs.concurrency: too small');
    expect(formatConfigProblem({ source: 'file', file: 'x.yaml', at: '', message: 'cannot read this file (ENOENT)' })).toBe('x.yaml: cannot read this file (ENOENT)');
    expect(formatConfigProblem({ source: 'env', variable: 'PORTAL_BRIDGE_NOPE', at: '', message: 'unknown variable' })).toBe('env PORTAL_BRIDGE_NOPE: unknown variable');
    expect(formatConfigProblem({ source: 'flag', flag: 'admin.port', at: 'admin.port', message: 'bad' })).toBe('flag admin.port: bad');
  });
});
