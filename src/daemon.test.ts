import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describeEachDatabase } from '../test/helpers/db';
import { bundledMapping } from '../test/helpers/mappings';
import { daemonDatabase, expectConverged, feedFamilies, welcomesSent } from '../test/e2e/helpers/families-run';
import { loadConfig } from './config/load';
import type { Config } from './config/schema';
import { startDaemon, type Daemon, type DaemonTiming } from './daemon';
import { sandboxControl, startSandboxPortal, type RunningSandbox } from './portal/sandbox';
import type { StoreOptions } from './store';

jest.setTimeout(60_000);

function configFor(db: StoreOptions, dir: string, sandboxUrl: string): Config {
  const database = daemonDatabase(db);
  const loaded = loadConfig({
    env: { PORTAL_BRIDGE_LOG_REF_KEY: 'daemon-test-ref-key-0123456789' },
    cwd: dir,
    flags: {
      'practice.id': 'daemon-test',
      ...('file' in database ? { 'database.file': database.file } : { 'database.url': database.url }),
      'portal.baseUrl': sandboxUrl,
      'jobs.concurrency': 3,
      'log.level': 'debug',
    },
  });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  return loaded.config;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describeEachDatabase('the daemon (composition root, in-process)', (db) => {
  let dir: string;
  let sandbox: RunningSandbox | undefined;
  let daemon: Daemon | undefined;
  let lines: Record<string, unknown>[];

  async function start(timing: Partial<DaemonTiming> = {}): Promise<Daemon> {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pb-daemon-'));
    sandbox = await startSandboxPortal({ port: 0 });
    const clean = await db.open();
    for (const table of ['inbox', 'jobs', 'accounts', 'links', 'invitations', 'side_effects', 'audit', 'conflicts', 'cursors', 'contacts', 'patients']) await clean.knex(table).delete();
    await clean.close();
    lines = [];
    const stream = new PassThrough();
    stream.on('data', (c: Buffer) => lines.push(...c.toString('utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)));
    daemon = await startDaemon({ config: configFor(db.options(), dir, sandbox.url), mapping: bundledMapping('hl7v2'), logStream: stream, timing });
    return daemon;
  }

  afterEach(async () => {
    await daemon?.stop('test over');
    await sandbox?.close();
    rmSync(dir, { recursive: true, force: true });
    daemon = sandbox = undefined;
  });

  test('ingests, reconciles with N workers, runs its schedules, stops drained; logs transitions without PHI', async () => {
    const d = await start();
    expect(d.workerIds).toEqual([1, 2, 3].map((n) => `${os.hostname()}:${process.pid}:${n}`));
    await feedFamilies(d.store, { guardians: 20, childrenPer: 2 });
    d.wake();
    await until('idle', () => d.isIdle());
    await expectConverged(d.store, sandbox!.url, { guardians: 20, childrenPer: 2 });

    // Portal changes poll: a first login on the portal makes the ledger's account active.
    await sandboxControl(sandbox!.url).login({ email: 'guardian7@example.org' });
    await d.runSchedule('portal-changes');
    expect((await d.store.ledger.getAccount('c:G7'))?.status).toBe('active');

    // Daily re-evaluation queues everyone again; converged guardians change nothing.
    await d.runSchedule('daily-reevaluation');
    await until('idle after re-evaluation', () => d.isIdle());
    expect(await welcomesSent(d.store)).toBe(20);
    expect((await sandboxControl(sandbox!.url).outbox()).length).toBe(20);
    await d.runSchedule('retry-sweep');

    // Retention: processed rows older than retention.processedInboxDays (30) go; newer ones stay.
    await d.runSchedule('retention-prune');
    expect(await d.store.knex('inbox').count({ n: '*' }).then((r) => Number((r[0] as { n: unknown }).n))).toBe(40);
    await d.store.knex('inbox').whereIn('id', d.store.knex('inbox').select('id').orderBy('id').limit(10)).update({ processed_at: '2020-01-01T00:00:00.000Z' });
    await d.runSchedule('retention-prune');
    expect(await d.store.knex('inbox').count({ n: '*' }).then((r) => Number((r[0] as { n: unknown }).n))).toBe(30);

    expect(await d.stop('test')).toEqual({ drained: true });
    const msgs = lines.map((l) => l['msg']);
    expect(msgs).toContain('daemon started');
    expect(lines.find((l) => l['msg'] === 'daemon started')).toMatchObject({ level: 'info', database: db.dialect === 'sqlite' ? 'sqlite' : 'postgres', workers: 3, timeZone: 'America/New_York' });
    expect(lines.find((l) => l['msg'] === 'daily re-evaluation queued')).toMatchObject({ guardians: expect.any(Number) });
    expect(lines.filter((l) => l['msg'] === 'processed inbox rows pruned').map((l) => l['rows'])).toEqual([0, 10]);
    expect(msgs.slice(-2)).toEqual(['daemon stopping', 'daemon stopped']);
    const text = JSON.stringify(lines);
    expect(text).not.toMatch(/example\.org|Parent\d|Kid\d|Child\d|2019060/);
    expect(await d.stop('again')).toEqual({ drained: true });
  });

  test('a stop that outlives its grace period closes anyway and says so', async () => {
    const d = await start({ shutdownGraceMs: 100 });
    await sandboxControl(sandbox!.url).faults({ latencyMs: 1_500 });
    await feedFamilies(d.store, { guardians: 1, childrenPer: 1 });
    d.wake();
    await until('a job running', async () => (await d.store.jobs.counts()).running > 0);
    expect(await d.stop('test')).toEqual({ drained: false });
    expect(lines).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'in-flight work cut off at shutdown: it runs again after restart' }));
  });
});
