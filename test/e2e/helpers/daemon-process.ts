/** `portal-bridge start` as a real child process (the compiled CLI), with its log lines captured. */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { builtCli, ROOT } from './build';

export interface DaemonProcess {
  readonly child: ChildProcess;
  /** Every stdout line so far (JSON log lines). */
  readonly lines: string[];
  /** Everything written to stderr. */
  stderr(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** True once a log line with this msg was written. */
  logged(msg: string): boolean;
}

/** Settings for a test daemon: a SQLite file or a PostgreSQL URL, and the sandbox it talks to. */
export interface TestDaemonConfig {
  readonly dir: string;
  readonly sandboxUrl: string;
  readonly database: { file: string } | { url: string };
  readonly concurrency?: number;
  /** The config's `connectors:` list (default none). */
  readonly connectors?: readonly Record<string, unknown>[];
}

/** Writes `<dir>/daemon.yaml` (short leases and backoff, so crashes heal in seconds) and returns the env to run with. */
export function writeDaemonConfig(c: TestDaemonConfig): { configFile: string; env: Record<string, string> } {
  const configFile = path.join(c.dir, 'daemon.yaml');
  writeFileSync(
    configFile,
    stringify({
      practice: { id: 'e2e' },
      ...('file' in c.database && { database: { file: c.database.file, synchronous: 'FULL' } }),
      mapping: { path: path.join(ROOT, 'mappings', 'hl7v2-default.yaml') },
      portal: { kind: 'sandbox', baseUrl: c.sandboxUrl, timeoutMs: 5000 },
      jobs: { concurrency: c.concurrency ?? 4, leaseMs: 2000, maxAttempts: 50, backoff: { baseMs: 100, factor: 2, capMs: 1000 } },
      ...(c.connectors !== undefined && { connectors: c.connectors }),
    }),
  );
  // A database URL is read from the environment only when it could hold a password: keep it there.
  const env: Record<string, string> = { PORTAL_BRIDGE_LOG_REF_KEY: 'e2e-ref-key-0123456789abcdef' };
  if ('url' in c.database) env['PORTAL_BRIDGE_DATABASE_URL'] = c.database.url;
  return { configFile, env };
}

/** Starts `portal-bridge start --config <file>` in `cwd` with only PATH and `env` in its environment. */
export function spawnDaemon(options: { cwd: string; configFile: string; env: Record<string, string> }): DaemonProcess {
  const child = spawn(process.execPath, [builtCli(), 'start', '--config', options.configFile], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts.filter((l) => l !== ''));
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    lines,
    stderr: () => err,
    exited,
    logged: (msg) => lines.some((l) => l.includes(`"msg":"${msg}"`)),
  };
}

/** Polls `check` every 25 ms until it holds; throws after `timeoutMs` naming `what`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Kills the process if it still runs and waits for it to exit (afterEach / afterAll). */
export async function ensureStopped(p: DaemonProcess | undefined): Promise<void> {
  if (p === undefined || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGKILL');
  await p.exited;
}
