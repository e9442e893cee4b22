import { WakeSignal } from './wake-signal';

test('a wait ends when woken, long before its timeout', async () => {
  const signal = new WakeSignal();
  const started = Date.now();
  const waiting = signal.wait(60_000);
  signal.wake();
  await waiting;
  expect(Date.now() - started).toBeLessThan(1_000);
});

test('a wake during a busy step is not lost: the next wait with the generation seen before returns at once', async () => {
  const signal = new WakeSignal();
  const seen = signal.generation;
  signal.wake(); // arrives while nobody waits
  const started = Date.now();
  await signal.wait(60_000, seen);
  expect(Date.now() - started).toBeLessThan(1_000);
});

test('without a wake the wait lasts its time; close ends every wait, now and later', async () => {
  const signal = new WakeSignal();
  const started = Date.now();
  await signal.wait(30);
  expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  const a = signal.wait(60_000);
  const b = signal.wait(60_000);
  signal.close();
  await Promise.all([a, b]);
  expect(signal.isClosed).toBe(true);
  await signal.wait(60_000);
});
