import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { startSandboxPortal } from '../portal/sandbox';
import { bundledMappingText } from '../../test/helpers/mappings';
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

describe('start with connectors', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'pb-start-conn-'));
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  const run = async (connector: string): Promise<{ code: number; errors: string[] }> => {
    const config = path.join(tmp, 'site.yaml');
    writeFileSync(config, `database:\n  file: ${JSON.stringify(path.join(tmp, 'bridge.db'))}\nconnectors:\n  - ${connector}\n`);
    const errors: string[] = [];
    const code = await startCommand({ config: [config] }, { out: () => undefined, err: (t) => errors.push(t) }, new Promise<string>(() => undefined), { logStream: new PassThrough() });
    return { code, errors };
  };

  test('a port already in use: exit 1 naming the connector and the address; nothing started', async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const { port } = busy.address() as net.AddressInfo;
    try {
      expect(await run(`{ kind: hl7v2-mllp, name: adt, port: ${port} }`)).toEqual({
        code: 1,
        errors: [`portal-bridge: connector adt: 127.0.0.1:${port}: the port is already in use [ERR_CONNECTOR_START]; nothing was started`],
      });
    } finally {
      await new Promise<void>((resolve) => busy.close(() => resolve()));
    }
  });

  test('an unreadable certificate or a missing drop folder: exit 2 naming the option and the path', async () => {
    const cert = path.join(tmp, 'missing.crt');
    expect(await run(`{ kind: hl7v2-mllp, name: adt, port: 2575, tls: { certFile: ${JSON.stringify(cert)}, keyFile: k.pem } }`)).toEqual({
      code: 2,
      errors: [`portal-bridge: connector adt: tls.certFile ${cert} cannot be read (ENOENT) [ERR_CONFIG_INVALID]; nothing was started`],
    });
    const drop = await run(`{ kind: hl7v2-file, name: drop, dir: ${JSON.stringify(path.join(tmp, 'nope'))} }`);
    expect(drop.code).toBe(2);
    expect(drop.errors.join('\n')).toMatch(/connector drop: .*nope/);
  });
});

describe('start with a mapping per input format (mapping.others)', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'pb-start-maps-'));
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  const run = async (mapping: string): Promise<{ code: number; errors: string[] }> => {
    const config = path.join(tmp, 'site.yaml');
    writeFileSync(config, `database:\n  file: ${JSON.stringify(path.join(tmp, 'bridge.db'))}\nmapping:\n${mapping}\n`);
    const errors: string[] = [];
    const code = await startCommand({ config: [config], printConfig: true }, { out: () => undefined, err: (t) => errors.push(t) }, new Promise<string>(() => undefined));
    return { code, errors };
  };

  test('HL7 v2 and FHIR together with the same policy: accepted', async () => {
    expect(await run('  path: mappings/hl7v2-default.yaml\n  others: [mappings/fhir-default.yaml]')).toEqual({ code: 0, errors: [] });
  });

  test('two mappings of one format, or policies that differ: exit 2 saying which', async () => {
    const same = await run('  path: mappings/hl7v2-default.yaml\n  others: [mappings/hl7v2-default.yaml]');
    expect(same.code).toBe(2);
    expect(same.errors.join('\n')).toMatch(/mapping\.others\.0\) is a hl7v2 mapping like mapping\.path/);
    const fhir = path.join(tmp, 'fhir.yaml');
    writeFileSync(fhir, bundledMappingText('fhir').replace(/minorAgeLimit: \d+/, 'minorAgeLimit: 12'));
    const differ = await run(`  path: mappings/hl7v2-default.yaml\n  others: [${JSON.stringify(fhir)}]`);
    expect(differ.code).toBe(2);
    expect(differ.errors.join('\n')).toMatch(/policy block of .*fhir\.yaml \(mapping\.others\.0\) differs/);
  });
});
