import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../test/helpers/cli';
import { openStore } from '../store';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'pb-failures-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A config file naming a SQLite database in the temp dir. */
function configFor(name: string, extra = ''): string {
  const file = path.join(tmp, `${name}.yaml`);
  writeFileSync(file, `database:\n  file: ${JSON.stringify(path.join(tmp, `${name}.db`))}\n${extra}`);
  return file;
}

async function migrated(name: string): Promise<string> {
  const config = configFor(name);
  const store = await openStore({ file: path.join(tmp, `${name}.db`) });
  await store.migrate();
  await store.close();
  return config;
}

describe('portal-bridge failures', () => {
  test('--help on every command, with an example; --unmask is said to be for staff who need it', async () => {
    const group = await runCli('failures', '--help');
    expect(group.code).toBe(0);
    expect(group.out).toMatch(/\$ portal-bridge failures list/);
    const list = await runCli('failures', 'list', '--help');
    expect(list.out).toMatch(/Examples:\n {2}\$ portal-bridge failures list/);
    const show = await runCli('failures', 'show', '--help');
    expect(show.out).toMatch(/Examples:\n {2}\$ portal-bridge failures show job:12/);
    expect(show.out).toMatch(/--unmask .*only for staff who need them/s);
  });

  test('no database: exit 2, says to migrate, creates nothing', async () => {
    const config = configFor('missing');
    const r = await runCli('failures', 'list', '--config', config);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no database at .*missing\.db: run `portal-bridge migrate` first/);
    expect(existsSync(path.join(tmp, 'missing.db'))).toBe(false);
  });

  test('a database without our tables: exit 2, says to migrate', async () => {
    const store = await openStore({ file: path.join(tmp, 'empty.db') });
    await store.close();
    const r = await runCli('failures', 'list', '--config', configFor('empty'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no portal-bridge tables in the database at .*empty\.db: run `portal-bridge migrate` first/);
  });

  test('a bad config: exit 2 with every problem located', async () => {
    const r = await runCli('failures', 'list', '--config', configFor('bad', 'jobs:\n  maxAtempts: 3\n'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/bad\.yaml:4:3: jobs\.maxAtempts: unknown key "maxAtempts" \(did you mean "maxAttempts"\?\)/);
  });

  test('an empty queue lists none (exit 0); --json is one object', async () => {
    const config = await migrated('fresh');
    const r = await runCli('failures', 'list', '--config', config);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Failed jobs \(0, most recent first\)\n {2}none/);
    const json = await runCli('failures', 'list', '--config', config, '--json');
    expect(JSON.parse(json.out)).toEqual({ jobs: [], rejected: [] });
    expect((await runCli('failures', 'list', '--config', config, '--limit', '0')).code).toBe(2);
  });

  test('show: a bad id is exit 2, an unknown one exit 1 naming it', async () => {
    const config = await migrated('show');
    const bad = await runCli('failures', 'show', 'g_0123', '--config', config);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/"g_0123" is not an id: give job:<n>/);
    const job = await runCli('failures', 'show', 'job:42', '--config', config);
    expect(job.code).toBe(1);
    expect(job.err).toMatch(/no job 42/);
    const inbox = await runCli('failures', 'show', 'inbox:9', '--config', config);
    expect(inbox.code).toBe(1);
    expect(inbox.err).toMatch(/no inbox row 9/);
  });
});
