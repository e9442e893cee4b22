import { PassThrough } from 'node:stream';
import { BridgeError } from '../errors';
import { createLogger } from '../log';
import { runLoop } from './loop';
import { WakeSignal } from './wake-signal';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new PassThrough();
  stream.on('data', (c: Buffer) => lines.push(...c.toString('utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)));
  return { log: createLogger({ level: 'debug', stream }), lines };
}

test('runs steps back to back while they have work, waits when told, stops when asked', async () => {
  const { log } = capture();
  const signal = new WakeSignal();
  let stopping = false;
  let steps = 0;
  const loop = runLoop(
    async () => {
      steps++;
      if (steps === 5) stopping = true;
      return steps < 3 ? 0 : 60_000; // from the third step on: nothing to do
    },
    { name: 'test', signal, isStopping: () => stopping, log, maxErrorDelayMs: 1_000 },
  );
  // The third step asked for a long wait: only a wake runs the next one.
  while (steps < 3) await new Promise((r) => setImmediate(r));
  signal.wake();
  while (steps < 4) await new Promise((r) => setImmediate(r));
  signal.wake();
  await loop;
  expect(steps).toBe(5);
});

test('a failing step is logged (warn when transient, error otherwise) and retried; the loop never throws', async () => {
  const { log, lines } = capture();
  const signal = new WakeSignal();
  let steps = 0;
  await runLoop(
    async () => {
      steps++;
      if (steps === 1) throw new BridgeError('ERR_STORE_UNAVAILABLE', 'database busy');
      if (steps === 2) throw new Error('a bug with patient data in its message');
      return 0;
    },
    { name: 'test', signal, isStopping: () => steps >= 3, log, maxErrorDelayMs: 5 },
  );
  expect(steps).toBe(3);
  expect(lines.map((l) => [l['level'], l['msg']])).toEqual([
    ['warn', 'daemon loop step failed: retrying'],
    ['error', 'daemon loop step failed'],
  ]);
  expect(JSON.stringify(lines)).not.toMatch(/patient data/);
});

test('a busy loop still lets timers run (better-sqlite3 answers synchronously)', async () => {
  const { log } = capture();
  let stopping = false;
  setTimeout(() => (stopping = true), 20);
  await runLoop(async () => 0, { name: 'test', signal: new WakeSignal(), isStopping: () => stopping, log, maxErrorDelayMs: 5 });
  expect(stopping).toBe(true);
});
