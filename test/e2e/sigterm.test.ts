/**
 * Graceful shutdown of a real daemon process: SIGTERM in the middle of a run lets the work in flight finish and
 * exits 0; after a restart (with more input stored meanwhile) everything converges; SIGINT stops it too; a
 * second signal does not wait.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sandboxControl, startSandboxPortal, type RunningSandbox } from '../../src/portal/sandbox';
import { openStore, type Store } from '../../src/store';
import { builtCli } from './helpers/build';
import { ensureStopped, spawnDaemon, waitFor, writeDaemonConfig, type DaemonProcess } from './helpers/daemon-process';
import { expectConverged, feedFamilies, queueIdle, welcomesSent } from './helpers/families-run';

jest.setTimeout(180_000);

let dir: string;
let sandbox: RunningSandbox | undefined;
let store: Store | undefined;
let daemon: DaemonProcess | undefined;

beforeAll(() => {
  builtCli();
}, 240_000);

afterEach(async () => {
  await ensureStopped(daemon);
  await store?.close();
  await sandbox?.close();
  rmSync(dir, { recursive: true, force: true });
  sandbox = store = daemon = undefined;
});

test('SIGTERM mid-run: in-flight work finishes, exit 0; restart converges; SIGINT stops it as well', async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pb-sigterm-'));
  sandbox = await startSandboxPortal({ port: 0 });
  const file = path.join(dir, 'bridge.db');
  const s = (store = await openStore({ file }));
  await s.migrate();
  await feedFamilies(s, { guardians: 150, childrenPer: 2 });
  const { configFile, env } = writeDaemonConfig({ dir, sandboxUrl: sandbox.url, database: { file } });

  const first = (daemon = spawnDaemon({ cwd: dir, configFile, env }));
  await waitFor('some welcomes sent', async () => (await welcomesSent(s)) >= 10 || first.child.exitCode !== null, 60_000);
  expect(await welcomesSent(s)).toBeLessThan(150);
  first.child.kill('SIGTERM');
  expect(await first.exited).toEqual({ code: 0, signal: null });
  expect(first.stderr()).toBe('');
  const log = first.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const msgs = log.map((l) => l['msg']);
  expect(msgs.indexOf('daemon started')).toBeGreaterThanOrEqual(0);
  expect(msgs.indexOf('daemon stopping')).toBeGreaterThan(msgs.indexOf('daemon started'));
  expect(log.find((l) => l['msg'] === 'daemon stopping')).toMatchObject({ level: 'info', reason: 'SIGTERM' });
  expect(log[log.length - 1]).toMatchObject({ msg: 'daemon stopped', drained: true });
  // Nothing was cut off: no job is left claimed by the stopped daemon.
  expect((await s.jobs.counts()).running).toBe(0);
  expect(await queueIdle(s)).toBe(false);

  // More input arrives while the daemon is down; the restarted daemon takes up both.
  await feedFamilies(s, { guardians: 160, childrenPer: 2, controlPrefix: 'later-', start: '20260111090000' });
  const second = (daemon = spawnDaemon({ cwd: dir, configFile, env }));
  await waitFor('the queue to become idle after the restart', () => queueIdle(s), 120_000);
  second.child.kill('SIGINT');
  expect(await second.exited).toEqual({ code: 0, signal: null });
  expect(second.lines.some((l) => l.includes('"msg":"daemon stopping"') && l.includes('"reason":"SIGINT"'))).toBe(true);

  // The first 150 families came twice (the second time as new messages), plus 10 new ones.
  await expectConverged(s, sandbox.url, { guardians: 160, childrenPer: 2, inputs: 150 * 2 + 160 * 2 });
});

test('a second signal while the daemon waits for work in flight exits at once, status 1', async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pb-sigterm-'));
  sandbox = await startSandboxPortal({ port: 0 });
  const file = path.join(dir, 'bridge.db');
  const s = (store = await openStore({ file }));
  await s.migrate();
  await sandboxControl(sandbox.url).faults({ latencyMs: 4_000 });
  await feedFamilies(s, { guardians: 1, childrenPer: 1 });
  const { configFile, env } = writeDaemonConfig({ dir, sandboxUrl: sandbox.url, database: { file } });
  const d = (daemon = spawnDaemon({ cwd: dir, configFile, env }));
  await waitFor('a job in flight', async () => (await s.jobs.counts()).running > 0);
  const sent = Date.now();
  d.child.kill('SIGTERM');
  await waitFor('the daemon to begin stopping', () => d.logged('daemon stopping'));
  d.child.kill('SIGTERM');
  expect(await d.exited).toEqual({ code: 1, signal: null });
  expect(Date.now() - sent).toBeLessThan(3_500);
  expect(d.logged('daemon stopped')).toBe(false);
  await sandboxControl(sandbox.url).faults(null);
});
