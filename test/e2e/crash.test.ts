/**
 * Issue #3, crash safety: 2,000 patient↔parent rows (1,000 guardians × 2 children) in the inbox; the daemon — a
 * real process — is killed with SIGKILL at random moments at least five times and restarted each time, then
 * left to run until the queue is idle. Nothing is lost and nothing is done twice: every input processed, one
 * account per guardian with both children, one welcome per account.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSandboxPortal, type RunningSandbox } from '../../src/portal/sandbox';
import type { Store } from '../../src/store';
import { describeEachDatabase } from '../helpers/db';
import { builtCli } from './helpers/build';
import { ensureStopped, spawnDaemon, waitFor, writeDaemonConfig, type DaemonProcess } from './helpers/daemon-process';
import { daemonDatabase, expectConverged, feedFamilies, inboxProgress, queueIdle, welcomesSent } from './helpers/families-run';

jest.setTimeout(300_000);

const FAMILIES = { guardians: 1000, childrenPer: 2 };
const KILLS = 6;

beforeAll(() => {
  builtCli();
}, 240_000);

describeEachDatabase('crash safety: SIGKILL at random moments', (db) => {
  let dir: string | undefined;
  let sandbox: RunningSandbox | undefined;
  let store: Store | undefined;
  let daemon: DaemonProcess | undefined;
  afterEach(async () => {
    await ensureStopped(daemon);
    await store?.close();
    await sandbox?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = sandbox = store = daemon = undefined;
  });

  test(`${FAMILIES.guardians * FAMILIES.childrenPer} contacts, ${KILLS} kills: everything converges, one welcome per account`, async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pb-crash-'));
    sandbox = await startSandboxPortal({ port: 0 });
    const s = (store = await db.open());
    const inputs = await feedFamilies(s, FAMILIES);
    const { configFile, env } = writeDaemonConfig({ dir, sandboxUrl: sandbox.url, database: daemonDatabase(db.options()) });

    // Progress 0..3000: inbox rows processed plus welcomes sent. Each run is killed once progress passes a random
    // point — and has moved at least a little since it started, so every kill lands in the middle of work.
    const total = inputs + FAMILIES.guardians;
    const progress = async (): Promise<number> => (await inboxProgress(s)).processed + (await welcomesSent(s));
    const points = Array.from({ length: KILLS }, () => Math.floor(total * (0.05 + 0.85 * Math.random()))).sort((a, b) => a - b);
    const kills: string[] = [];
    for (const point of points) {
      daemon = spawnDaemon({ cwd: dir, configFile, env });
      const d = daemon;
      await waitFor('the daemon to start', () => d.logged('daemon started') || d.child.exitCode !== null);
      expect(d.child.exitCode).toBeNull();
      const from = await progress();
      const target = Math.max(point, from + 25);
      await waitFor(`progress ${target} of ${total}`, async () => (await progress()) >= target, 120_000);
      d.child.kill('SIGKILL');
      expect((await d.exited).signal).toBe('SIGKILL');
      kills.push(`${from}→${await progress()}`);
    }
    expect(kills).toHaveLength(KILLS);

    daemon = spawnDaemon({ cwd: dir, configFile, env });
    const last = daemon;
    await waitFor('the queue to become idle after the last restart', () => queueIdle(s), 180_000);
    last.child.kill('SIGTERM');
    expect(await last.exited).toEqual({ code: 0, signal: null });
    expect(last.stderr()).toBe('');

    await expectConverged(s, sandbox.url, FAMILIES);
  });
});
