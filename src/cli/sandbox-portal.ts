import { InvalidArgumentError, type Command } from 'commander';
import { startSandboxPortal } from '../portal/sandbox';
import { EXIT, type CliIo, type ExitCode } from './io';

/** The parsed options of `portal-bridge sandbox-portal`. */
export interface SandboxPortalOptions {
  port: number;
  host: string;
  db?: string;
  retainChanges: number;
  json?: boolean;
}

/**
 * `portal-bridge sandbox-portal`: runs the sandbox portal until `until` resolves (SIGINT / SIGTERM in the CLI),
 * then closes it and resolves to exit 0.
 */
export async function sandboxPortalCommand(opts: SandboxPortalOptions, io: CliIo, until: Promise<unknown>): Promise<ExitCode> {
  const sandbox = await startSandboxPortal({ port: opts.port, host: opts.host, changesRetention: opts.retainChanges, ...(opts.db === undefined ? {} : { dbFile: opts.db }) });
  const db = opts.db ?? ':memory:';
  io.out(opts.json === true ? JSON.stringify({ url: sandbox.url, db }) : `sandbox portal listening on ${sandbox.url} (db ${db}); Ctrl-C stops it`);
  await until;
  await sandbox.close();
  if (opts.json !== true) io.out('sandbox portal stopped');
  return EXIT.ok;
}

function stopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return n;
  };
}

/** Registers `sandbox-portal` on the program; the action resolves (exit 0) when SIGINT or SIGTERM stops it. */
export function registerSandboxPortal(program: Command, io: CliIo, done: (code: ExitCode) => void): void {
  program
    .command('sandbox-portal')
    .description('run a local portal that implements the REST contract, records the welcomes it "sends" and injects faults')
    .requiredOption('-p, --port <n>', 'TCP port (0 picks a free one)', integer(0, 65535))
    .option('--host <address>', 'bind address (the sandbox has no authentication: keep it local)', '127.0.0.1')
    .option('--db <file>', 'SQLite file (WAL) to keep its state in (default: in memory, gone when it stops)')
    .option('--retain-changes <n>', 'how many changes GET /v1/changes keeps; older cursors answer 410', integer(0, 10_000_000), 10_000)
    .option('--json', 'print {url, db} as one JSON line once listening')
    .addHelpText(
      'after',
      `
Test hooks (never faulted):
  GET  /v1/_outbox             every welcome sent
  POST /v1/_login              {"accountId": ...} or {"email": ...}: first login, invited -> active
  POST /v1/_faults             {"errorRate":0.1, "rateLimit":{"every":5,"retryAfterSeconds":2},
                                "latencyMs":50, "dropAfterCommitRate":0.05, "seed":42}
  DELETE /v1/_faults           no faults
  POST /v1/_retention          {"changes": n}: keep only the last n changes
  POST /v1/_staff-accounts     an account created at the desk (createdBy: staff)

Examples:
  $ portal-bridge sandbox-portal --port 8085
  $ portal-bridge sandbox-portal --port 8085 --db /tmp/sandbox-portal.db
  $ curl -s -X POST localhost:8085/v1/_faults -H 'content-type: application/json' -d '{"errorRate":0.2,"seed":1}'
  $ curl -s localhost:8085/v1/_outbox

Runs until Ctrl-C (SIGINT) or SIGTERM; exit 0. A port in use is exit 1.`,
    )
    .action(async (opts: SandboxPortalOptions) => done(await sandboxPortalCommand(opts, io, stopSignal())));
}
