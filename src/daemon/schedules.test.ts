import { PassThrough } from 'node:stream';
import { createLogger } from '../log';
import { settledBy, startSchedules } from './schedules';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new PassThrough();
  stream.on('data', (c: Buffer) => lines.push(...c.toString('utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)));
  return { log: createLogger({ level: 'debug', stream }), lines };
}

test('ticks run on their cron schedule (six fields: seconds) and stop cleanly', async () => {
  const { log } = capture();
  let ticks = 0;
  const schedules = startSchedules([{ name: 'every-second', expression: '* * * * * *', run: async () => void ticks++ }], { timeZone: 'America/New_York', log });
  const deadline = Date.now() + 5_000;
  while (ticks === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(await schedules.stop(Date.now() + 1_000)).toBe(true);
  expect(ticks).toBeGreaterThan(0);
  const after = ticks;
  await new Promise((r) => setTimeout(r, 1_200));
  expect(ticks).toBe(after);
});

test('no overlap; a failing tick is logged, not thrown; stop waits for the tick in flight, within its deadline', async () => {
  const { log, lines } = capture();
  let release: () => void = () => undefined;
  let runs = 0;
  const schedules = startSchedules(
    [
      { name: 'slow', expression: '0 3 * * *', run: () => new Promise<void>((r) => ((runs += 1), (release = r))) },
      { name: 'broken', expression: '0 3 * * *', run: async () => Promise.reject(new Error('boom')) },
    ],
    { timeZone: 'UTC', log },
  );
  const first = schedules.runNow('slow');
  await schedules.runNow('slow'); // still busy: skipped
  expect(runs).toBe(1);
  await schedules.runNow('broken');
  expect(lines).toContainEqual(expect.objectContaining({ level: 'error', msg: 'schedule failed', schedule: 'broken' }));
  const stopping = schedules.stop(Date.now() + 5_000);
  release();
  expect(await stopping).toBe(true);
  await first;
  await schedules.runNow('slow'); // stopped: nothing runs
  expect(runs).toBe(1);
});

test('stop gives up on a tick that outlives the deadline', async () => {
  const { log } = capture();
  let release: () => void = () => undefined;
  const schedules = startSchedules([{ name: 'stuck', expression: '0 3 * * *', run: () => new Promise<void>((r) => (release = r)) }], { timeZone: 'UTC', log });
  const running = schedules.runNow('stuck');
  expect(await schedules.stop(Date.now() + 50)).toBe(false);
  release();
  await running;
  expect(await settledBy([], Date.now())).toBe(true);
});
