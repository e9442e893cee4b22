/**
 * Issue #4, durability before the ACK: `portal-bridge start` runs an MLLP connector from its config; four senders
 * stream 1,200 ADT messages (600 guardians × 2 children) at it, each sending its next message when the ACK
 * arrives and sending again whatever was not acknowledged when the connection drops — as real interface engines
 * do. The daemon is killed with SIGKILL three times in the middle of the stream. After each kill, before any
 * restart, every message that received AA is in the inbox. At the end: each message stored once, one account per
 * guardian with both children, one welcome per account.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSandboxPortal, type RunningSandbox } from '../../src/portal/sandbox';
import type { Store } from '../../src/store';
import { describeEachDatabase } from '../helpers/db';
import { familyMessages } from '../helpers/families';
import { hl7Field, MllpTestClient } from '../helpers/mllp';
import { freePort } from '../helpers/net';
import { builtCli } from './helpers/build';
import { ensureStopped, spawnDaemon, waitFor, writeDaemonConfig, type DaemonProcess } from './helpers/daemon-process';
import { daemonDatabase, expectConverged, queueIdle } from './helpers/families-run';

jest.setTimeout(300_000);

const FAMILIES = { guardians: 600, childrenPer: 2 };
const SENDERS = 4;
const KILLS = 3;

beforeAll(() => {
  builtCli();
}, 240_000);

/** A sender that sends in order, one message in flight, and sends again what was not acknowledged after a drop. */
async function sendAll(port: number, messages: readonly string[], acked: Set<string>, stop: () => boolean): Promise<void> {
  let client: MllpTestClient | undefined;
  let i = 0;
  while (i < messages.length && !stop()) {
    const message = messages[i] as string;
    try {
      client ??= await MllpTestClient.connect(port);
      const ack = await client.send(message, 5000);
      const code = hl7Field(ack, 'MSA', 1);
      if (code !== 'AA') throw new Error(`unexpected ${code} for ${hl7Field(message, 'MSH', 10)}`);
      acked.add(hl7Field(ack, 'MSA', 2));
      i += 1;
    } catch (e) {
      if (e instanceof Error && e.message.startsWith('unexpected')) throw e;
      client?.socket.destroy();
      client = undefined;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  await client?.close();
}

describeEachDatabase('MLLP: SIGKILL during a stream', (db) => {
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

  test(`${FAMILIES.guardians * FAMILIES.childrenPer} messages, ${SENDERS} senders, ${KILLS} kills: every AA stored, nothing twice`, async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pb-mllp-crash-'));
    sandbox = await startSandboxPortal({ port: 0 });
    const s = (store = await db.open());
    const port = await freePort();
    const { configFile, env } = writeDaemonConfig({
      dir,
      sandboxUrl: sandbox.url,
      database: daemonDatabase(db.options()),
      connectors: [{ kind: 'hl7v2-mllp', name: 'adt', host: '127.0.0.1', port }],
    });
    const messages = familyMessages(FAMILIES);
    const acked = new Set<string>();
    let finished = false;
    const start = async (): Promise<DaemonProcess> => {
      const d = spawnDaemon({ cwd: dir as string, configFile, env });
      await waitFor('the daemon to start', () => d.logged('daemon started') || d.child.exitCode !== null);
      expect(d.child.exitCode).toBeNull();
      return d;
    };
    const storedControlIds = async (): Promise<Set<string>> =>
      new Set(((await s.knex('inbox').select('control_id').where({ source: 'adt' })) as { control_id: string }[]).map((r) => r.control_id));

    daemon = await start();
    const senders = Array.from({ length: SENDERS }, (_, k) => sendAll(port, messages.filter((_, i) => i % SENDERS === k), acked, () => finished));
    const all = Promise.all(senders);

    const points = Array.from({ length: KILLS }, () => Math.floor(messages.length * (0.1 + 0.75 * Math.random()))).sort((a, b) => a - b);
    for (const point of points) {
      const target = Math.max(point, acked.size + 20);
      await waitFor(`${target} ACKs`, () => acked.size >= target, 120_000);
      daemon.child.kill('SIGKILL');
      expect((await daemon.exited).signal).toBe('SIGKILL');
      const stored = await storedControlIds();
      const lost = [...acked].filter((id) => !stored.has(id));
      expect(lost).toEqual([]);
      daemon = await start();
    }
    await all;
    finished = true;
    expect(acked.size).toBe(messages.length);

    await waitFor('the queue to become idle', () => queueIdle(s), 180_000);
    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toEqual({ code: 0, signal: null });
    expect(daemon.stderr()).toBe('');

    // Each message stored once although the senders sent again what a kill left unacknowledged.
    expect((await storedControlIds()).size).toBe(messages.length);
    expect(Number(((await s.knex('inbox').count({ n: '*' }).where({ source: 'adt' })) as { n: unknown }[])[0]?.n)).toBe(messages.length);
    await expectConverged(s, sandbox.url, FAMILIES);
  });
});
