/**
 * bench/portal-floor (issue #5): the least a backfill's reconcile can cost on this machine. For each new guardian
 * DESIGN §5/§7.1 asks for six portal calls — findAccount by externalId, then by email (adopt an account staff
 * made), createAccount, linkDependent per child (two here), sendInvitation — and nothing else is done here: no
 * store, no mapping, no eligibility, no ledger. The bridge's REST client (axios, as the daemon uses it) against
 * the sandbox portal in its own process, `--concurrency` guardians at a time. Prints guardians/s, calls/s, the CPU
 * each side spends per guardian, and for `--project` guardians (default 100,000: bench/backfill's full size has
 * 100,000 guardians) the time at this rate and the floor of client + portal CPU spread over every core — below
 * which no backfill on this machine can converge, whatever the bridge does. Prints figures; never pass/fail.
 *
 *   npm run bench:portal-floor                          # 2,000 guardians, 16 at a time
 *   node dist/bench/portal-floor.js --guardians 5000 --concurrency 32
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createRestPortalClient } from '../src/portal/rest';
import type { ServerCommand, ServerMessage } from './backfill-protocol';
import { positiveInt, usage } from './support';

const { values: flags } = usage(() =>
  parseArgs({
    options: {
      guardians: { type: 'string', default: '2000' },
      concurrency: { type: 'string', default: '16' },
      project: { type: 'string', default: '100000' },
    },
  }),
);
const guardians = positiveInt('--guardians', flags.guardians);
const concurrency = positiveInt('--concurrency', flags.concurrency);
const project = positiveInt('--project', flags.project);
const CALLS_PER_GUARDIAN = 6;

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pb-bench-floor-'));
  const sandbox = fork(path.join(__dirname, 'backfill-servers.js'), ['sandbox', path.join(dir, 'portal.db')], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const ready = await new Promise<ServerMessage>((resolve, reject) => {
      sandbox.once('message', (m: ServerMessage) => resolve(m));
      sandbox.once('exit', (code) => reject(new Error(`the sandbox portal exited (${code})`)));
    });
    if (ready.kind !== 'ready') throw new Error(`the sandbox portal did not start: ${JSON.stringify(ready)}`);
    const portal = createRestPortalClient({ baseUrl: ready.url });
    const run = randomBytes(4).toString('hex');

    const one = async (i: number): Promise<void> => {
      const key = `floor-${run}-${i}`;
      const email = `guardian.${run}.${i}@example.test`;
      const byKey = await portal.findAccount({ externalId: key });
      const byEmail = byKey ?? (await portal.findAccount({ email }));
      if (byEmail !== undefined) throw new Error('a fresh guardian was found on the portal');
      const account = await portal.createAccount({ externalId: key, email, givenName: 'Alex', familyName: `Floor${i}` }, `${key}:create`);
      for (const child of [1, 2]) {
        await portal.linkDependent(account.id, `P-${run}-${i}-${child}`, { accessLevel: 'full', patient: { givenName: 'Kim', familyName: `Floor${i}`, birthDate: '2018-05-0' + String(child) } }, `${key}:link:${child}`);
      }
      await portal.sendInvitation({ accountId: account.id, channel: 'email', method: 'link', trigger: 'created' }, `${key}:welcome`);
    };

    const ask = (command: ServerCommand): Promise<ServerMessage> =>
      new Promise<ServerMessage>((resolve) => {
        sandbox.once('message', (m: ServerMessage) => resolve(m));
        sandbox.send(command);
      });
    const sandboxCpu = async (): Promise<number> => {
      const m = await ask({ kind: 'cpu' });
      if (m.kind !== 'cpu') throw new Error(`the sandbox portal answered ${m.kind}`);
      return m.cpuSeconds;
    };

    // Warm-up (JIT, connections), not counted.
    for (let i = 0; i < Math.min(100, guardians); i++) await one(-1 - i);
    let next = 0;
    const portalCpu0 = await sandboxCpu();
    const cpu0 = process.cpuUsage();
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < guardians) await one(next++);
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const portalCpu = (await sandboxCpu()) - portalCpu0;
    await ask({ kind: 'stop' });
    const rate = guardians / seconds;
    const clientMs = ((cpu.user + cpu.system) / 1e3) / guardians;
    const portalMs = (portalCpu * 1e3) / guardians;
    console.log(`bench/portal-floor — six portal calls per new guardian, nothing else (Node ${process.version}, ${os.cpus().length} cores)`);
    console.log(`  ${fmt(guardians)} guardians, ${concurrency} at a time, REST client (axios) → sandbox portal ${ready.url} (own process, SQLite file)`);
    console.log(`  ${fmt(seconds, 2)} s: ${fmt(rate)} guardians/s, ${fmt(rate * CALLS_PER_GUARDIAN)} calls/s`);
    console.log(`  CPU per guardian: client ${fmt(clientMs, 2)} ms (${fmt(((cpu.user + cpu.system) / 1e6 / seconds) * 100)} % of a core), sandbox portal ${fmt(portalMs, 2)} ms (${fmt((portalCpu / seconds) * 100)} % of a core)`);
    const cores = os.cpus().length;
    console.log(`  for ${fmt(project)} guardians (issue #5's whole backfill budget: 120 s):`);
    console.log(`    these calls at this rate                             ${fmt(project / rate).padStart(6)} s`);
    console.log(`    client + portal CPU spread perfectly over all ${cores} cores  ${fmt((project * (clientMs + portalMs)) / 1e3 / cores).padStart(6)} s  (a floor: nothing else done)`);
    console.log(`    the sandbox portal's own CPU alone, on its one thread${fmt((project * portalMs) / 1e3).padStart(6)} s`);
  } finally {
    if (sandbox.exitCode === null) sandbox.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = 1;
});
