/**
 * The daemon with its connectors from the config file, both input formats at once (mapping.others): an MLLP
 * channel and a FHIR poller feed one pipeline, which converges the sandbox portal; `status` counts per channel.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load';
import { startDaemon, type Daemon } from '../../src/daemon';
import { startSandboxPortal, type RunningSandbox } from '../../src/portal/sandbox';
import { describeEachDatabase } from '../helpers/db';
import { familyMessages } from '../helpers/families';
import { startFhirTestServer, type FhirTestServer } from '../helpers/fhir-server';
import { bundledMapping } from '../helpers/mappings';
import { hl7Field, MllpTestClient } from '../helpers/mllp';
import { freePort } from '../helpers/net';
import { daemonDatabase, expectConverged } from '../e2e/helpers/families-run';

jest.setTimeout(60_000);

describeEachDatabase('daemon with MLLP and FHIR connectors', (db) => {
  let dir: string | undefined;
  let sandbox: RunningSandbox | undefined;
  let fhir: FhirTestServer | undefined;
  let daemon: Daemon | undefined;
  afterEach(async () => {
    await daemon?.stop('test over');
    await sandbox?.close();
    await fhir?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    daemon = sandbox = fhir = dir = undefined;
  });

  test('HL7 families over MLLP and FHIR families by polling converge in one portal; channels counted apart', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pb-connectors-'));
    sandbox = await startSandboxPortal({ port: 0 });
    fhir = await startFhirTestServer();
    // Guardians 1-10 come from HL7, 11-20 from FHIR (same naming: contact id G<g>, patients P<g>-<n>).
    fhir.addFamilies({ guardians: 10, childrenPer: 2, startIndex: 11 });
    const clean = await db.open();
    for (const table of ['inbox', 'jobs', 'accounts', 'links', 'invitations', 'side_effects', 'audit', 'conflicts', 'cursors', 'contacts', 'patients', 'channel_stats']) await clean.knex(table).delete();
    await clean.close();
    const port = await freePort();
    const database = daemonDatabase(db.options());
    const file = path.join(dir, 'site.yaml');
    writeFileSync(
      file,
      stringify({
        practice: { id: 'connectors-test' },
        database: 'file' in database ? { file: database.file } : { url: database.url },
        mapping: { path: 'mappings/hl7v2-default.yaml', others: ['mappings/fhir-default.yaml'] },
        portal: { kind: 'sandbox', baseUrl: sandbox.url },
        jobs: { concurrency: 3 },
        connectors: [
          { kind: 'hl7v2-mllp', name: 'adt', port },
          { kind: 'fhir-poll', name: 'ehr-fhir', baseUrl: fhir.baseUrl, intervalMs: 1000, pageSize: 7 },
        ],
      }),
    );
    const loaded = loadConfig({ env: { PORTAL_BRIDGE_LOG_REF_KEY: 'connectors-test-ref-key-0123' }, cwd: path.resolve(__dirname, '..', '..'), files: [file] });
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    daemon = await startDaemon({ config: loaded.config, mapping: bundledMapping('hl7v2'), otherMappings: [bundledMapping('fhir')], logStream: new PassThrough() });
    expect(daemon.connectors.map((c) => c.kind)).toEqual(['fhir-poll', 'hl7v2-mllp']);

    const client = await MllpTestClient.connect(port);
    try {
      for (const message of familyMessages({ guardians: 10, childrenPer: 2 })) expect(hl7Field(await client.send(message), 'MSA', 1)).toBe('AA');
    } finally {
      await client.close();
    }
    const d = daemon;
    const deadline = Date.now() + 40_000;
    while ((await d.store.ledger.listAccounts({ limit: 100 })).length < 20 || !(await d.isIdle())) {
      if (Date.now() > deadline) throw new Error('the daemon did not converge');
      await new Promise((r) => setTimeout(r, 50));
    }
    await expectConverged(d.store, sandbox.url, { guardians: 20, childrenPer: 2, inputs: 20 + 40 });
    const stats = await d.store.inbox.channelStats();
    expect(stats.map((s) => [s.source, s.accepted])).toEqual([
      ['adt', 20],
      ['ehr-fhir', 40],
    ]);
  });
});
