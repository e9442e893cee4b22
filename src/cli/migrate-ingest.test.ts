import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../test/helpers/cli';
import { openStore } from '../store';

let tmp: string;
let config: string;
let dbFile: string;
beforeEach(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'pb-cli-daemon-'));
  dbFile = path.join(tmp, 'data', 'bridge.db');
  config = path.join(tmp, 'site.yaml');
  writeFileSync(config, `database:\n  file: ${JSON.stringify(dbFile)}\n`);
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

const hl7 = (id: string, patient: string) =>
  [`MSH|^~\\&|EHR|CLINIC|PORTAL|CLINIC|20260110090000||ADT^A04^ADT_A01|${id}|P|2.5.1`, `PID|1||${patient}^^^CLINIC^MR||Kid^Mia||20190601|F`].join('\r');

async function inboxRows() {
  const store = await openStore({ file: dbFile });
  try {
    return (await store.knex('inbox').select('source', 'dedupe_key', 'format', 'status').orderBy('id')) as Record<string, unknown>[];
  } finally {
    await store.close();
  }
}

test('migrate: applies every migration once (creating the folder), then has nothing to do', async () => {
  const first = await runCli('migrate', '--config', config);
  expect(first.err).toBe('');
  expect(first.code).toBe(0);
  expect(first.out).toMatch(/^SQLite .*bridge\.db: applied \d+ migration\(s\):\n {2}001_inbox\n/);
  const again = await runCli('migrate', '--config', config, '--json');
  expect(again.code).toBe(0);
  expect(JSON.parse(again.out)).toEqual({ store: `SQLite ${dbFile}`, applied: [] });
});

test('migrate: a bad configuration is exit 2 with every problem', async () => {
  writeFileSync(config, 'database:\n  synchronous: SOMETIMES\n  flie: x.db\n');
  const r = await runCli('migrate', '--config', config);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(/2 problem\(s\); nothing was done/);
  expect(r.err).toMatch(/site\.yaml:2:16: database\.synchronous/);
  expect(r.err).toMatch(/site\.yaml:3:3: database\.flie: unknown key "flie" \(did you mean "file"\?\)/);
});

test('ingest: HL7 messages one row each (dedupe by MSH-10), FHIR one row per file; again: all duplicates', async () => {
  const feed = path.join(tmp, 'feed.hl7');
  writeFileSync(feed, `${hl7('A1', 'P1')}\r\n${hl7('A2', 'P2')}\r\n`);
  const bundle = path.join(tmp, 'bundle.json');
  writeFileSync(bundle, JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [] }));
  const r = await runCli('ingest', '--config', config, feed, bundle);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/feed\.hl7: 2 new, 0 duplicate\n.*bundle\.json: 1 new, 0 duplicate\nstored 3 new input\(s\) in the inbox \(source "cli"\); 0 duplicate\(s\)/);
  const again = await runCli('ingest', '--config', config, '--json', feed, bundle);
  expect(JSON.parse(again.out)).toMatchObject({ source: 'cli', new: 0, duplicate: 3 });
  const other = await runCli('ingest', '--config', config, '--source', 'ehr-2', '--json', feed);
  expect(JSON.parse(other.out)).toMatchObject({ source: 'ehr-2', new: 2, duplicate: 0 });
  const rows = await inboxRows();
  expect(rows.map((row) => [row['source'], row['format'], row['status']])).toEqual([
    ['cli', 'hl7v2', 'received'],
    ['cli', 'hl7v2', 'received'],
    ['cli', 'fhir', 'received'],
    ['ehr-2', 'hl7v2', 'received'],
    ['ehr-2', 'hl7v2', 'received'],
  ]);
  expect(rows.slice(0, 2).map((row) => row['dedupe_key'])).toEqual(['A1', 'A2']);
});

test('ingest: a missing or empty file is exit 2 and nothing is stored; a bad source name is a usage error', async () => {
  const good = path.join(tmp, 'good.hl7');
  writeFileSync(good, hl7('A1', 'P1'));
  const missing = await runCli('ingest', '--config', config, good, path.join(tmp, 'nope.hl7'));
  expect(missing.code).toBe(2);
  expect(missing.err).toMatch(/cannot read input .*nope\.hl7: ENOENT/);
  const empty = path.join(tmp, 'empty.hl7');
  writeFileSync(empty, '\r\n');
  const r = await runCli('ingest', '--config', config, good, empty);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(/empty\.hl7 holds no HL7 v2 message or FHIR JSON/);
  expect((await runCli('ingest', '--config', config, '--source', 'bad name', good)).code).toBe(2);
  expect((await runCli('migrate', '--config', config)).code).toBe(0);
  expect(await inboxRows()).toEqual([]);
});
