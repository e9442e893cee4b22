import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { startSandboxPortal } from '../portal/sandbox';
import { startCommand } from './start';

test('start runs the daemon until told to stop, then stops it gracefully: exit 0, transitions logged', async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pb-start-'));
  const sandbox = await startSandboxPortal({ port: 0 });
  try {
    const config = path.join(tmp, 'site.yaml');
    writeFileSync(config, `database:\n  file: ${JSON.stringify(path.join(tmp, 'bridge.db'))}\nportal:\n  baseUrl: ${sandbox.url}\n`);
    const lines: string[] = [];
    const logStream = new PassThrough();
    logStream.on('data', (c: Buffer) => lines.push(...c.toString('utf8').split('\n').filter((l) => l !== '')));
    const errors: string[] = [];
    let stop: (signal: string) => void = () => undefined;
    const signal = new Promise<string>((resolve) => (stop = resolve));
    const running = startCommand({ config: [config] }, { out: () => undefined, err: (t) => errors.push(t) }, signal, { logStream });
    while (!lines.some((l) => l.includes('"msg":"daemon started"'))) await new Promise((r) => setTimeout(r, 10));
    stop('SIGTERM');
    expect(await running).toBe(0);
    expect(errors).toEqual([]);
    const msgs = lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(msgs).toEqual(expect.arrayContaining(['configuration warning', 'store migrated', 'daemon started', 'daemon stopping', 'daemon stopped']));
    expect(lines.find((l) => l.includes('daemon stopping'))).toMatch(/"reason":"SIGTERM"/);
  } finally {
    await sandbox.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});
