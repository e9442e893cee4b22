import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../test/helpers/cli';
import { startFhirTestServer, type FhirTestServer } from '../../test/helpers/fhir-server';
import { backfillCommand, parseSince } from './backfill';
import { formatProgress } from './backfill-progress';

let tmp: string;
let server: FhirTestServer;
beforeEach(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'pb-cli-backfill-'));
  server = await startFhirTestServer({ exportPolls: 1, exportRetryAfterS: 0, exportFileLines: 4 });
  server.addFamilies({ guardians: 3, childrenPer: 2 });
});
afterEach(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** A config with the SQLite file in tmp and the given connector lines under `connectors:`. */
function writeConfig(...connectors: string[]): string {
  const file = path.join(tmp, 'site.yaml');
  const list = connectors.length === 0 ? 'connectors: []' : ['connectors:', ...connectors.map((c) => `  - ${c}`)].join('\n');
  writeFileSync(file, `database:\n  file: ${JSON.stringify(path.join(tmp, 'bridge.db'))}\n${list}\n`);
  return file;
}

const fhirPoll = (name: string, baseUrl = server.baseUrl): string => `{ kind: fhir-poll, name: ${name}, baseUrl: ${JSON.stringify(baseUrl)} }`;

test('backfill --from fhir --json: exit 0 with the report; stores every resource; run again: already done', async () => {
  const config = writeConfig(fhirPoll('ehr'));
  const first = await runCli('backfill', '--from', 'fhir', '--json', '-c', config);
  expect(first.code).toBe(0);
  const report = JSON.parse(first.out) as Record<string, unknown>;
  expect(report).toMatchObject({ connector: 'ehr', mode: 'export', phase: 'done', stored: 12, duplicate: 0, rejected: 0, resumed: false, alreadyDone: false });
  expect(report.byType).toEqual({ Patient: 6, RelatedPerson: 6 });
  expect(first.err).toBe(''); // --json is quiet: no progress, only warnings on stderr

  const again = await runCli('backfill', '--from', 'fhir', '-c', config);
  expect(again.code).toBe(0);
  expect(again.out).toMatch(/already done \(export, as of \d{4}-.*\): nothing read\. --restart/);

  const restarted = await runCli('backfill', '--from', 'fhir', '--restart', '-c', config);
  expect(restarted.code).toBe(0);
  expect(restarted.out).toMatch(/the backfill of "ehr" is done \(Bulk Data export, as of .*\) in [\d.]+ s:\n {2}12 resource\(s\) read \(Patient 6, RelatedPerson 6\): 0 new, 12 already in the inbox, 0 rejected/);
  // Not a terminal: plain progress lines and the log lines (JSON, info) on stderr, without PHI or query values.
  expect(restarted.err).toMatch(/^backfill \[export\] starting the export · 0 read/m);
  expect(restarted.err).toMatch(/"msg":"backfill done"/);
  expect(restarted.err).not.toMatch(/Testfamily|Testchild|example\.org|_type=/);
});

test('--since and --connector pick what to read; several fhir-poll connectors need --connector', async () => {
  const config = writeConfig(fhirPoll('ehr'), fhirPoll('other', 'http://127.0.0.1:9/fhir'));
  const ambiguous = await runCli('backfill', '--from', 'fhir', '-c', config);
  expect(ambiguous.code).toBe(2);
  expect(ambiguous.err).toMatch(/2 fhir-poll connectors \("ehr", "other"\): name one with --connector <name>/);
  const unknown = await runCli('backfill', '--from', 'fhir', '--connector', 'nope', '-c', config);
  expect(unknown.code).toBe(2);
  expect(unknown.err).toMatch(/no fhir-poll connector is named "nope"/);

  const r = await runCli('backfill', '--from', 'fhir', '--connector', 'ehr', '--since', '2999-01-01', '--json', '-c', config);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.out)).toMatchObject({ connector: 'ehr', stored: 0 });
  expect(server.requests().find((q) => q.path === '/fhir/$export')?.query).toMatchObject({ _since: '2999-01-01T00:00:00.000Z' });
});

test("a Group: the connector's exportGroup, or --group instead; a bad id is a usage error", async () => {
  server.put({ resourceType: 'Group', id: 'north', type: 'person', actual: true, member: [{ entity: { reference: 'Patient/P1-1' } }] });
  server.put({ resourceType: 'Group', id: 'south', type: 'person', actual: true, member: [{ entity: { reference: 'Patient/P2-2' } }, { entity: { reference: 'Patient/P3-1' } }] });
  const config = writeConfig(`{ kind: fhir-poll, name: ehr, baseUrl: ${JSON.stringify(server.baseUrl)}, exportGroup: north }`);
  const fromConfig = await runCli('backfill', '--from', 'fhir', '--json', '-c', config);
  expect(fromConfig.code).toBe(0);
  expect(JSON.parse(fromConfig.out)).toMatchObject({ mode: 'export', stored: 2, byType: { Patient: 1, RelatedPerson: 1 } });
  const fromFlag = await runCli('backfill', '--from', 'fhir', '--json', '--group', 'south', '-c', config);
  expect(JSON.parse(fromFlag.out)).toMatchObject({ mode: 'export', stored: 4, byType: { Patient: 2, RelatedPerson: 2 } });
  expect(server.requests().filter((r) => r.path.endsWith('$export')).map((r) => r.path)).toEqual(['/fhir/Group/north/$export', '/fhir/Group/south/$export']);

  const bad = await runCli('backfill', '--from', 'fhir', '--group', 'no/such', '-c', config);
  expect(bad.code).toBe(2);
  expect(bad.err).toMatch(/--group.*expected a FHIR Group id/);
  const unknown = await runCli('backfill', '--from', 'fhir', '--group', 'west', '-c', config);
  expect(unknown.code).toBe(1);
  expect(unknown.err).toMatch(/Group\/\[id\]\/\$export answered 404: the server has no such Group, or no Group-level export \(check the connector's exportGroup\) \[ERR_FHIR_REQUEST\]/);
});

test('usage and configuration problems: exit 2 with what to do', async () => {
  const none = await runCli('backfill', '--from', 'fhir', '-c', writeConfig());
  expect(none.code).toBe(2);
  expect(none.err).toMatch(/declares no fhir-poll connector to backfill: add one under `connectors:`/);
  expect(none.err).toMatch(/kind: fhir-poll, name: ehr-fhir, baseUrl:/);

  const config = writeConfig(fhirPoll('ehr'));
  expect((await runCli('backfill', '-c', config)).code).toBe(2);
  expect((await runCli('backfill', '--from', 'hl7', '-c', config)).code).toBe(2);
  const since = await runCli('backfill', '--from', 'fhir', '--since', 'last tuesday', '-c', config);
  expect(since.code).toBe(2);
  expect(since.err).toMatch(/RFC 3339/);

  const keyless = writeConfig(
    `{ kind: fhir-poll, name: ehr, baseUrl: ${JSON.stringify(server.baseUrl)}, auth: { kind: smart-backend, tokenUrl: ${JSON.stringify(server.tokenUrl)}, clientId: c1, privateKeyFile: ${JSON.stringify(path.join(tmp, 'missing.pem'))} } }`,
  );
  const auth = await runCli('backfill', '--from', 'fhir', '-c', keyless);
  expect(auth.code).toBe(2);
  expect(auth.err).toMatch(/connector "ehr": /);
});

test('a server that refuses the export: exit 1, one line saying to run it again', async () => {
  server.fault({ path: '/fhir/$export', status: 400 });
  const r = await runCli('backfill', '--from', 'fhir', '-c', writeConfig(fhirPoll('ehr')));
  expect(r.code).toBe(1);
  expect(r.err).toMatch(/portal-bridge: the backfill of "ehr" stopped: GET \$export\?_type answered 400 \(invalid\) \[ERR_FHIR_REQUEST\]\. What was stored is kept: run the same command again to resume/);
});

test('--help teaches, with examples and exit codes', async () => {
  const r = await runCli('backfill', '--help');
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/--from <source>/);
  expect(r.out).toMatch(/Examples:\n {2}\$ portal-bridge backfill --from fhir\n/);
  expect(r.out).toMatch(/Exit status: 0 done/);
});

test('on a terminal: one line rewritten in place, log warnings above it, ended with a newline', async () => {
  const config = writeConfig(fhirPoll('ehr'));
  const written: string[] = [];
  const out: string[] = [];
  const io = { out: (t: string) => out.push(t), err: (t: string) => written.push(`[io.err]${t}`) };
  const code = await backfillCommand({ config: [config], from: 'fhir' }, io, { isTTY: true, columns: 200, write: (t) => written.push(t) });
  expect(code).toBe(0);
  expect(written.length).toBeGreaterThan(3);
  expect(written.every((w) => w.startsWith('\r\x1b[K') || w === '\n')).toBe(true);
  expect(written.at(-1)).toBe('\n');
  // (A rate follows when the run took a second or more.)
  expect(written.at(-2)?.startsWith('\r\x1b[Kbackfill [export] done · 12 read (Patient 6, RelatedPerson 6) · 12 new · 0 duplicate · 0 rejected')).toBe(true);
  expect(out.join('\n')).toMatch(/is done/);
});

test('--since accepts a date or an RFC 3339 instant with its offset', () => {
  expect(parseSince('2026-02-01').toISOString()).toBe('2026-02-01T00:00:00.000Z');
  expect(parseSince('2026-02-01T10:30:00+02:00').toISOString()).toBe('2026-02-01T08:30:00.000Z');
  expect(parseSince('2026-02-01T10:30:00.5Z').toISOString()).toBe('2026-02-01T10:30:00.500Z');
  for (const bad of ['2026-02-30', '2026-02-01T10:30:00', '01/02/2026', '']) expect(() => parseSince(bad)).toThrow(/RFC 3339/);
});

test('the progress line: phase, file, counts per type, rate', () => {
  const line = formatProgress(
    { mode: 'export', phase: 'downloading', byType: { Patient: 1500, RelatedPerson: 734 }, stored: 2200, duplicate: 30, rejected: 4, file: { index: 3, count: 8 } },
    410,
  );
  expect(line).toBe('backfill [export] downloading file 3/8 · 2,234 read (Patient 1,500, RelatedPerson 734) · 2,200 new · 30 duplicate · 4 rejected · 410/s');
  expect(formatProgress({ mode: 'export', phase: 'waiting', byType: {}, stored: 0, duplicate: 0, rejected: 0, serverProgress: '40%' })).toBe(
    'backfill [export] waiting for the server (40%) · 0 read · 0 new · 0 duplicate · 0 rejected',
  );
});
