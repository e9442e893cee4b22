/**
 * bench/portal-floor (issue #5): the least a backfill's reconcile can cost on this machine. For each new guardian
 * DESIGN §5/§7.1 asks for six portal calls — findAccount by externalId, then by email (adopt an account staff
 * made), createAccount, linkDependent per child (two here), sendInvitation — and nothing else is done here: no
 * store, no mapping, no eligibility, no ledger. The bridge's REST client (axios, as the daemon uses it) against
 * the sandbox portal in its own process, `--concurrency` guardians at a time. Prints guardians/s, calls/s and the
 * time those calls alone would take for `--project` guardians (default 100,000: bench/backfill's full size has
 * 100,000 guardians), so bench/backfill's figure can be read against it. Prints figures; never pass/fail.
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

    // Warm-up (JIT, connections), not counted.
    for (let i = 0; i < Math.min(100, guardians); i++) await one(-1 - i);
    let next = 0;
    const cpu0 = process.cpuUsage();
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < guardians) await one(next++);
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const rate = guardians / seconds;
    const stats = await new Promise<ServerMessage>((resolve) => {
      sandbox.once('message', (m: ServerMessage) => resolve(m));
      sandbox.send({ kind: 'stop' } satisfies ServerCommand);
    });
    console.log(`bench/portal-floor — six portal calls per new guardian, nothing else (Node ${process.version}, ${os.cpus().length} cores)`);
    console.log(`  ${fmt(guardians)} guardians, ${concurrency} at a time, REST client (axios) → sandbox portal ${ready.url} (own process, SQLite file)`);
    console.log(`  ${fmt(seconds, 2)} s: ${fmt(rate)} guardians/s, ${fmt(rate * CALLS_PER_GUARDIAN)} calls/s`);
    console.log(`  CPU: client ${fmt(((cpu.user + cpu.system) / 1e6 / seconds) * 100)} % of one core` + (stats.kind === 'stopped' ? `, sandbox portal ${fmt(stats.cpuSeconds, 1)} s over its whole life (warm-up included)` : ''));
    console.log(`  these calls alone for ${fmt(project)} guardians: ${fmt(project / rate)} s on this machine (issue #5's whole backfill budget: 120 s)`);
  } finally {
    if (sandbox.exitCode === null) sandbox.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = 1;
});
