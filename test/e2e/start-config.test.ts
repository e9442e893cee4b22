/**
 * `portal-bridge start` refuses a bad configuration or mapping with every problem at once (exit 2) and starts
 * nothing. Run in-process through main(): no process is needed to see a refusal.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers/cli';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'pb-start-config-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs the CLI with these PORTAL_BRIDGE_* variables set, restoring the environment after. */
async function withEnv(vars: Record<string, string>, run: () => ReturnType<typeof runCli>): ReturnType<typeof runCli> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await run();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

function file(name: string, text: string): string {
  const f = path.join(tmp, name);
  writeFileSync(f, text);
  return f;
}

test('two bad values in a file and one bad variable: exit 2, all three located, nothing started', async () => {
  const bad = file('bad.yaml', ['jobs:', '  concurrency: 0', 'schedules:', '  retrySweep: "every minute"', ''].join('\n'));
  const r = await withEnv({ PORTAL_BRIDGE_LOG_LEVEL: 'loud' }, () => runCli('start', '--config', bad));
  expect(r.code).toBe(2);
  expect(r.err).toMatch(/configuration has 3 problem\(s\); nothing was started/);
  expect(r.err).toMatch(/bad\.yaml:2:16: jobs\.concurrency: Too small/);
  expect(r.err).toMatch(/bad\.yaml:4:15: schedules\.retrySweep: not a cron expression/);
  expect(r.err).toMatch(/env PORTAL_BRIDGE_LOG_LEVEL: log\.level: Invalid option/);
  expect(r.out).not.toMatch(/daemon started/);
});

test('an invalid mapping file: exit 2 with each of its problems as file:line:column', async () => {
  const mapping = file('broken-mapping.yaml', ['format: hl7v2', 'name: broken', 'unknownEvents: sometimes', 'patient:', '  shoeSize: ZZZ-1', ''].join('\n'));
  const config = file('uses-broken-mapping.yaml', `mapping:\n  path: ${JSON.stringify(mapping)}\n`);
  const r = await runCli('start', '--config', config);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(/mapping .*broken-mapping\.yaml \(mapping\.path\) has \d+ problem\(s\); nothing was started/);
  expect(r.err).toMatch(/has 3 problem\(s\)/);
  expect(r.err).toMatch(/broken-mapping\.yaml:3:\d+: unknownEvents:/);
  expect(r.err).toMatch(/broken-mapping\.yaml:5:3: patient\.shoeSize: unknown key "shoeSize"/);
  expect(r.err).toMatch(/patient: patient\.id is required/);
  expect(r.out).toBe('');
});

test('a mapping path that does not exist is a mapping problem too', async () => {
  const config = file('missing-mapping.yaml', 'mapping:\n  path: no/such/mapping.yaml\n');
  const r = await runCli('start', '--config', config);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(/no\/such\/mapping\.yaml:1:1: .*cannot read the file \(ENOENT\)/);
});

test('a database file that cannot be opened: exit 1 (runtime), the database named, nothing started', async () => {
  const folder = path.join(tmp, 'a-folder.db');
  mkdirSync(folder, { recursive: true });
  const config = file('folder-db.yaml', `database:\n  file: ${JSON.stringify(folder)}\n`);
  const r = await runCli('start', '--config', config);
  expect(r.code).toBe(1);
  expect(r.err).toMatch(/cannot use the database \(SQLite .*a-folder\.db\): .*SQLITE_CANTOPEN/);
  expect(r.out).not.toMatch(/daemon started/);
});

test('--print-config: checks config and mapping, prints the effective config with secrets masked, starts nothing', async () => {
  const config = file('rest.yaml', 'portal:\n  kind: rest\n  baseUrl: https://portal.example.org\npractice:\n  id: clinic-7\n');
  const token = 'tok-0123456789abcdef-secret';
  const r = await withEnv({ PORTAL_BRIDGE_PORTAL_API_TOKEN: token }, () => runCli('start', '--config', config, '--print-config'));
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/id: clinic-7/);
  expect(r.out).toMatch(/apiToken: "?\[secret from PORTAL_BRIDGE_PORTAL_API_TOKEN\]"?/);
  expect(r.out).not.toContain(token);
});

test('--help shows an example and the exit statuses', async () => {
  const r = await runCli('start', '--help');
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/Examples:\n {2}\$ portal-bridge sandbox-portal --port 8085 &/);
  expect(r.out).toMatch(/Exit status: 0 stopped by a signal/);
});
