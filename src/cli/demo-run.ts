/**
 * One example case of `portal-bridge demo`, run through the daemon: a fresh SQLite database and sandbox portal,
 * the composition root started on them, the case's inputs stored in the inbox as a connector would, and the
 * daemon left to ingest and reconcile until the queue is idle.
 */
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { loadConfig } from '../config/load';
import type { Mapping } from '../core/mapping/types';
import { startDaemon, type Daemon } from '../daemon';
import { inboxItemsFromText } from '../daemon/inbox-items';
import { parseExpected, type ExpectedCase } from '../explain/expected-case';
import { detectFormat } from '../explain/run-inputs';
import { sandboxControl, startSandboxPortal } from '../portal/sandbox';
import { summariseCase, type CaseSummary } from './demo-summary';
import { packageRoot } from './io';
import { readMapping } from './read-mapping';

/** An example case folder: `input*` files (fed in name order), `expected.yaml`, maybe its own mapping. */
export interface DemoCase {
  readonly name: string;
  readonly dir: string;
  readonly expected: ExpectedCase;
  readonly mappingFile: string;
  readonly inputs: readonly string[];
}

/** The bundled example cases (mappings/examples), by name. */
export function bundledCases(): DemoCase[] {
  const root = path.join(packageRoot(), 'mappings', 'examples');
  return readdirSync(root)
    .filter((n) => !n.startsWith('.') && statSync(path.join(root, n)).isDirectory())
    .sort()
    .map((name) => readCase(path.join(root, name), name));
}

function readCase(dir: string, name: string): DemoCase {
  const expectedFile = path.join(dir, 'expected.yaml');
  const parsed = parseExpected(readFileSync(expectedFile, 'utf8'));
  if (!parsed.ok) throw new Error(`${expectedFile}: ${parsed.problems.join('; ')}`);
  const inputs = readdirSync(dir).filter((n) => n.startsWith('input')).sort().map((n) => readFileSync(path.join(dir, n), 'utf8'));
  const format = inputs[0] === undefined ? 'hl7v2' : detectFormat(inputs[0]);
  const own = parsed.value.mapping === undefined ? undefined : path.resolve(dir, parsed.value.mapping);
  const mappingFile = own !== undefined && existsSync(own) ? own : path.join(packageRoot(), 'mappings', `${format}-default.yaml`);
  return { name, dir, expected: parsed.value, mappingFile, inputs };
}

export interface DemoCaseRun {
  readonly workDir: string;
  /** The instant the case's clock starts at: noon (US time) on its `asOf` date. */
  readonly startAt: Date;
  /** How long the queue may take to become idle. */
  readonly timeoutMs: number;
  readonly mappings: Map<string, Mapping>;
}

/** Runs one case and summarises it. Throws when the queue does not become idle in time. */
export async function runDemoCase(c: DemoCase, run: DemoCaseRun): Promise<CaseSummary> {
  mkdirSync(run.workDir, { recursive: true });
  const mapping = run.mappings.get(c.mappingFile) ?? readMapping(c.mappingFile);
  run.mappings.set(c.mappingFile, mapping);
  // The example cases' ages are computed on their asOf date: the daemon's clock starts there and runs on.
  const offset = run.startAt.getTime() - Date.now();
  const now = (): Date => new Date(Date.now() + offset);
  const sandbox = await startSandboxPortal({ port: 0, host: '127.0.0.1' });
  const logStream = createWriteStream(path.join(run.workDir, 'daemon.log'));
  let daemon: Daemon | undefined;
  try {
    const loaded = loadConfig({
      env: {},
      cwd: run.workDir,
      flags: {
        'practice.id': 'demo',
        'database.file': path.join(run.workDir, 'portal-bridge.db'),
        'mapping.path': c.mappingFile,
        'portal.kind': 'sandbox',
        'portal.baseUrl': sandbox.url,
        'jobs.concurrency': 2,
      },
    });
    if (!loaded.ok) throw new Error(`demo configuration refused: ${loaded.problems.map((p) => p.message).join('; ')}`);
    daemon = await startDaemon({ config: loaded.config, mapping, logStream, now, timing: { inboxPollMs: 20, workerIdleMs: 100 } });
    await daemon.store.inbox.acceptInbox(
      c.inputs.flatMap((text) => inboxItemsFromText(text, 'demo')),
      { now: now() },
    );
    daemon.wake();
    await waitUntilIdle(daemon, run.timeoutMs, c.name);
    return await summariseCase({ store: daemon.store, sandbox: sandboxControl(sandbox.url), mapping, asOf: c.expected.asOf, c });
  } finally {
    await daemon?.stop('demo case finished');
    logStream.end();
    await once(logStream, 'close');
    await sandbox.close();
  }
}

async function waitUntilIdle(daemon: Daemon, timeoutMs: number, name: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await daemon.isIdle())) {
    if (Date.now() > deadline) throw new Error(`case ${name}: the queue was not idle after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
