import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isBridgeError } from '../errors';
import { EXIT, packageRoot, processIo, UsageError, type CliIo, type ExitCode } from './io';
import { registerFailures } from './failures';
import { registerGuard } from './guard';
import { registerResend } from './resend';
import { registerReplay } from './replay';
import { registerExplain } from './mappings-explain';
import { registerTest } from './mappings-test';
import { registerValidate } from './mappings-validate';
import { registerSandboxPortal } from './sandbox-portal';
import { registerBackfill } from './backfill';
import { registerDemo } from './demo';
import { registerIngest } from './ingest';
import { registerMigrate } from './migrate';
import { registerStart } from './start';
import { registerStatus } from './status';

/** Errors in what the user gave us (a mapping, an input path): exit 2, like a usage error. */
const CONFIG_ERRORS = new Set<string>(['ERR_MAPPING_INVALID_FILE', 'ERR_MAPPING_INVALID_PATH', 'ERR_INPUT_UNREADABLE']);

/** Builds the `portal-bridge` program. `done` receives each action's exit code. */
export function buildProgram(io: CliIo, done: (code: ExitCode) => void): Command {
  const program = new Command()
    .name('portal-bridge')
    .description('Keeps a patient portal in step with an EHR: HL7 v2 / FHIR R4 in, portal accounts out.')
    .version(version())
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) })
    .exitOverride()
    .showHelpAfterError('(add --help for usage)');
  const mappings = program
    .command('mappings')
    .description('check and try mapping files (for interface analysts)')
    .addHelpText('after', '\nStart with:\n  $ portal-bridge mappings explain -m mappings/hl7v2-default.yaml mappings/examples/siblings-one-parent');
  registerValidate(mappings, io, done);
  registerExplain(mappings, io, done);
  registerTest(mappings, io, done);
  registerDemo(program, io, done);
  registerStart(program, io, done);
  registerStatus(program, io, done);
  registerMigrate(program, io, done);
  registerIngest(program, io, done);
  registerBackfill(program, io, done);
  registerSandboxPortal(program, io, done);
  registerFailures(program, io, done);
  registerReplay(program, io, done);
  registerGuard(program, io, done);
  registerResend(program, io, done);
  return program;
}

/** Runs the CLI on `argv` (process.argv form) and resolves to the exit code; never calls process.exit. */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<ExitCode> {
  let code: ExitCode = EXIT.ok;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync([...argv]);
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (e instanceof UsageError || (isBridgeError(e) && CONFIG_ERRORS.has(e.code))) {
      io.err(`portal-bridge: ${e.message}`);
      return EXIT.usage;
    }
    io.err(`portal-bridge: failed: ${e instanceof Error ? e.message : String(e)}`);
    return EXIT.failure;
  }
}

function version(): string {
  return (JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
