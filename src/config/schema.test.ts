import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { ConfigSchema, DEFAULT_SANDBOX_URL } from './schema';
import { coerce, SETTING_BY_VARIABLE, SETTINGS, variableFor } from './settings';

const root = path.resolve(__dirname, '..', '..');

function issues(input: unknown): { at: string; message: string }[] {
  const r = ConfigSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => ({ at: i.path.join('.'), message: i.message }));
}

describe('ConfigSchema', () => {
  test('config/default.yaml states exactly the schema defaults', () => {
    const file: unknown = parse(readFileSync(path.join(root, 'config', 'default.yaml'), 'utf8'));
    expect(ConfigSchema.parse(file)).toEqual(ConfigSchema.parse({}));
    // …and leaves nothing out that has a default (only secrets and database.url / portal.baseUrl are absent).
    const leaves = (o: unknown, at: string[] = []): string[] =>
      typeof o === 'object' && o !== null && !Array.isArray(o) ? Object.entries(o).flatMap(([k, v]) => leaves(v, [...at, k])) : [at.join('.')];
    expect(leaves(file).sort()).toEqual(
      SETTINGS.map((s) => s.key)
        .filter((k) => !['database.url', 'portal.baseUrl', 'portal.apiToken', 'log.refKey', 'admin.token'].includes(k))
        .sort(),
    );
  });

  test('defaults', () => {
    const c = ConfigSchema.parse({});
    expect(c.database).toEqual({ file: './data/portal-bridge.db', synchronous: 'FULL' });
    expect(c.portal).toEqual({ kind: 'sandbox', baseUrl: DEFAULT_SANDBOX_URL, timeoutMs: 10_000 });
    expect(c.jobs).toEqual({ concurrency: 4, leaseMs: 60_000, maxAttempts: 8, backoff: { baseMs: 1000, factor: 2, capMs: 600_000 } });
    expect(c.schedules).toEqual({ retrySweep: '*/1 * * * *', portalChangesPoll: '*/5 * * * *', dailyReevaluation: '0 2 * * *', retentionPrune: '30 3 * * *' });
    expect(c.admin).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(c.connectors).toEqual([]);
  });

  test('cron expressions are checked with node-cron', () => {
    expect(issues({ schedules: { retrySweep: '61 * * * *', portalChangesPoll: 'every five minutes', dailyReevaluation: '0 0 2 * * *' } })).toEqual([
      { at: 'schedules.retrySweep', message: expect.stringMatching(/^not a cron expression \(61 is a invalid expression for minute\)/) },
      { at: 'schedules.portalChangesPoll', message: expect.stringMatching(/^not a cron expression/) },
    ]);
  });

  test('a rest portal needs a base URL and a token', () => {
    expect(issues({ portal: { kind: 'rest' } }).map((i) => i.message)).toEqual([
      'a rest portal needs portal.baseUrl',
      'a rest portal needs PORTAL_BRIDGE_PORTAL_API_TOKEN in the environment',
    ]);
    expect(issues({ portal: { kind: 'rest', baseUrl: 'https://portal.example.org', apiToken: 't' } })).toEqual([]);
    expect(issues({ portal: { baseUrl: 'ftp://x' } })).toEqual([{ at: 'portal.baseUrl', message: 'expected an http(s) URL' }]);
  });

  test('cross-field rules: admin beyond loopback needs a token, backoff cap, unique connector names', () => {
    expect(issues({ admin: { host: '0.0.0.0' } })).toEqual([{ at: 'admin.host', message: expect.stringMatching(/PORTAL_BRIDGE_ADMIN_TOKEN/) }]);
    expect(issues({ jobs: { backoff: { baseMs: 5000, capMs: 1000 } } })).toEqual([{ at: 'jobs.backoff.capMs', message: 'capMs must be at least baseMs' }]);
    expect(issues({ connectors: [{ kind: 'hl7v2-mllp', name: 'a', port: 2575 }, { kind: 'hl7v2-mllp', name: 'a', port: 2575 }] })).toEqual([
      { at: 'connectors.1.name', message: 'another connector is already named "a"' },
      { at: 'connectors.1.port', message: 'another connector already listens on 127.0.0.1:2575' },
    ]);
  });

  test('unknown keys and bad values', () => {
    expect(issues({ jobs: { concurency: 2 }, database: { url: 'mysql://x', synchronous: 'OFF' }, guards: { massUnlinkShare: 0 } }).map((i) => i.at)).toEqual([
      'database.url',
      'database.synchronous',
      'jobs',
      'guards.massUnlinkShare',
    ]);
  });

  test('a database URL problem never echoes the URL (it may hold a password)', () => {
    const [problem] = issues({ database: { url: 'mysql://u:hunter2@h/db' } });
    expect(problem?.message).not.toContain('hunter2');
  });
});

describe('settings', () => {
  test('one environment variable per setting, upper snake case', () => {
    expect(SETTING_BY_VARIABLE.size).toBe(SETTINGS.length);
    expect(variableFor(['jobs', 'backoff', 'baseMs'])).toBe('PORTAL_BRIDGE_JOBS_BACKOFF_BASE_MS');
    for (const v of ['PORTAL_BRIDGE_DATABASE_URL', 'PORTAL_BRIDGE_JOBS_CONCURRENCY', 'PORTAL_BRIDGE_PORTAL_API_TOKEN', 'PORTAL_BRIDGE_LOG_REF_KEY', 'PORTAL_BRIDGE_ADMIN_TOKEN', 'PORTAL_BRIDGE_RETENTION_PROCESSED_INBOX_DAYS', 'PORTAL_BRIDGE_GUARDS_MASS_UNLINK_SHARE']) {
      expect(SETTING_BY_VARIABLE.has(v)).toBe(true);
    }
    expect(SETTINGS.filter((s) => s.secret).map((s) => s.key)).toEqual(['portal.apiToken', 'log.refKey', 'admin.token']);
  });

  test('coercion of environment strings', () => {
    expect(coerce('8', 'number')).toBe(8);
    expect(coerce(' 0.25 ', 'number')).toBe(0.25);
    expect(coerce('eight', 'number')).toBe('eight');
    expect(coerce('', 'number')).toBe('');
    expect(coerce('Yes', 'boolean')).toBe(true);
    expect(coerce('off', 'boolean')).toBe(false);
    expect(coerce(' 42 ', 'string')).toBe(' 42 ');
  });
});
