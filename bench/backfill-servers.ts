/**
 * The two servers of bench/backfill, each forked by backfill.ts into its own process, so that their CPU and memory
 * are not the bridge's figures:
 *
 *   node dist/bench/backfill-servers.js fhir <families>      # FHIR test server with generated families ($export)
 *   node dist/bench/backfill-servers.js sandbox <db file>    # the sandbox portal on its own SQLite file
 *
 * Each sends `ready` with its URL over the IPC channel, serves until the orchestrator sends `stop`, then answers
 * `stopped` with its own peak RSS and CPU, and exits. Not meant to be run by hand.
 */
import { createSandboxApp } from '../src/portal/sandbox';
import { startFhirTestServer } from '../test/helpers/fhir-server';
import type { ServerCommand, ServerMessage } from './backfill-protocol';

const send = (m: ServerMessage): void => {
  process.send?.(m);
};

async function start(role: string | undefined, arg: string | undefined): Promise<() => Promise<void>> {
  if (role === 'fhir') {
    const families = Number(arg);
    // One 202 (Retry-After 1 s) before the manifest: a server that prepares the export, cheaply.
    const server = await startFhirTestServer({ exportPolls: 1, exportRetryAfterS: 1 });
    const made = server.addFamilies({ guardians: families, childrenPer: 2, coParents: true });
    send({ kind: 'ready', url: server.baseUrl, families: { families, patients: made.patients, relatedPersons: made.relatedPersons } });
    return () => server.close();
  }
  if (role === 'sandbox' && arg !== undefined) {
    const { app } = createSandboxApp({ dbFile: arg });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    send({ kind: 'ready', url });
    return () => app.close();
  }
  throw new Error('usage: backfill-servers.js fhir <families> | sandbox <db file>');
}

async function main(): Promise<void> {
  if (process.send === undefined) throw new Error('backfill-servers.js is forked by bench/backfill (it needs an IPC channel)');
  const close = await start(process.argv[2], process.argv[3]);
  const cpuSeconds = (): number => {
    const cpu = process.cpuUsage();
    return (cpu.user + cpu.system) / 1e6;
  };
  process.on('message', (m: ServerCommand) => {
    if (m.kind === 'cpu') {
      send({ kind: 'cpu', cpuSeconds: cpuSeconds() });
      return;
    }
    void close().then(() => {
      send({ kind: 'stopped', peakRssMb: process.resourceUsage().maxRSS / 1024, cpuSeconds: cpuSeconds() });
      process.disconnect();
    });
  });
  // The orchestrator died: nobody will send stop.
  process.on('disconnect', () => process.exit(0));
}

main().catch((e: unknown) => {
  send({ kind: 'error', message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  process.exitCode = 1;
  process.disconnect?.();
});
