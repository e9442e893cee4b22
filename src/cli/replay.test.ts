import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../test/helpers/cli';
import { openStore } from '../store';

let tmp: string;
let config: string;
beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'pb-replay-'));
  const file = path.join(tmp, 'store.db');
  config = path.join(tmp, 'config.yaml');
  writeFileSync(config, `database:\n  file: ${JSON.stringify(file)}\n`);
  const store = await openStore({ file });
  await store.migrate();
  await store.inbox.acceptInbox([{ source: 'test', dedupeKey: 'm1', format: 'hl7v2', raw: 'MSH|^~\\&|x' }]);
  await store.close();
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('portal-bridge replay', () => {
  test('--help has examples, --dry-run among them', async () => {
    const r = await runCli('replay', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Examples:\n {2}\$ portal-bridge replay job:12 --dry-run/);
  });

  test('bad usage is exit 2: no ids, ids with --all-failed, a bad id', async () => {
    expect((await runCli('replay', '--config', config)).code).toBe(2);
    const both = await runCli('replay', 'job:1', '--all-failed', '--config', config);
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/either ids or --all-failed/);
    const bad = await runCli('replay', 'job:x', '--config', config);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/"job:x" is not an id/);
  });

  test('unknown ids are exit 1, each named, and nothing is replayed', async () => {
    const r = await runCli('replay', 'job:41', 'inbox:1', 'inbox:99', '--config', config);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/job:41: no such job/);
    expect(r.err).toMatch(/inbox:1: the input is received, not rejected/);
    expect(r.err).toMatch(/inbox:99: no such inbox row/);
    expect(r.err).toMatch(/nothing replayed/);
  });

  test('--all-failed with nothing failed is exit 1', async () => {
    const r = await runCli('replay', '--all-failed', '--dry-run', '--config', config);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/nothing to replay: no failed jobs/);
  });
});
