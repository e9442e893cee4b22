import { runCli } from '../../test/helpers/cli';
import { sandboxPortalCommand } from './sandbox-portal';

test('sandbox-portal --help shows the hooks and an example', async () => {
  const r = await runCli('sandbox-portal', '--help');
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/Examples:\n {2}\$ portal-bridge sandbox-portal --port 8085/);
  expect(r.out).toMatch(/_faults/);
});

test('a bad or missing port is a usage error (exit 2)', async () => {
  expect((await runCli('sandbox-portal', '--port', 'eighty')).code).toBe(2);
  expect((await runCli('sandbox-portal')).code).toBe(2);
});

test('serves until told to stop, then exits 0', async () => {
  const lines: string[] = [];
  let stop: () => void = () => undefined;
  const until = new Promise<void>((r) => (stop = r));
  const io = { out: (t: string) => lines.push(t), err: (t: string) => lines.push(t) };
  const running = sandboxPortalCommand({ port: 0, host: '127.0.0.1', retainChanges: 10, json: true }, io, until);
  while (lines.length === 0) await new Promise((r) => setImmediate(r));
  const { url, db } = JSON.parse(lines[0]!) as { url: string; db: string };
  expect(db).toBe(':memory:');
  expect((await fetch(`${url}/v1/changes`)).status).toBe(200);
  stop();
  expect(await running).toBe(0);
  await expect(fetch(`${url}/v1/changes`)).rejects.toThrow();
});
