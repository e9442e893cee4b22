import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../test/helpers/cli';
import { adtMessage } from '../../test/helpers/mllp';

let tmp: string;
let config: string;
beforeEach(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'pb-cli-status-'));
  config = path.join(tmp, 'site.yaml');
  writeFileSync(
    config,
    [`database:\n  file: ${JSON.stringify(path.join(tmp, 'bridge.db'))}`, 'connectors:', '  - { kind: hl7v2-mllp, name: adt, port: 2575 }', '  - { kind: hl7v2-file, name: drop, dir: /in }', ''].join('\n'),
  );
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

test('status: a row per configured connector and per source that stored input, with counts; --json for scripts', async () => {
  expect((await runCli('migrate', '--config', config)).code).toBe(0);
  const feed = path.join(tmp, 'feed.hl7');
  writeFileSync(feed, [adtMessage('S1'), adtMessage('S2')].join('\r\n'));
  expect((await runCli('ingest', '--config', config, '--source', 'adt', feed)).code).toBe(0);
  expect((await runCli('ingest', '--config', config, '--source', 'adt', feed)).code).toBe(0);

  const text = await runCli('status', '--config', config);
  expect(text.err).toBe('');
  expect(text.code).toBe(0);
  const lines = text.out.split('\n');
  expect(lines[0]).toMatch(/^channel +kind +received +accepted +rejected +duplicate +waiting +last message$/);
  expect(lines[1]).toMatch(/^adt +hl7v2-mllp +4 +2 +0 +2 +2 +\d{4}-\d\d-\d\dT/);
  expect(lines[2]).toMatch(/^drop +hl7v2-file +0 +0 +0 +0 +0 +never$/);
  expect(text.out).toMatch(/jobs: 0 queued, 0 running, 0 failed/);

  const json = JSON.parse((await runCli('status', '--config', config, '--json')).out) as { channels: unknown[] };
  expect(json.channels[0]).toMatchObject({ name: 'adt', kind: 'hl7v2-mllp', received: 4, accepted: 2, rejected: 0, duplicate: 2, waiting: 2 });
  expect(json.channels[1]).toEqual({ name: 'drop', kind: 'hl7v2-file', received: 0, accepted: 0, rejected: 0, duplicate: 0, waiting: 0 });
});

test('status: no database yet is exit 2 with what to do', async () => {
  const r = await runCli('status', '--config', config);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(/portal-bridge migrate/);
});
