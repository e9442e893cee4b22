import type { Command } from 'commander';
import { Writable } from 'node:stream';
import { describeConfig } from '../config/load';
import type { Config } from '../config/schema';
import { formatProblem } from '../core/mapping/load';
import type { Mapping } from '../core/mapping/types';
import { startDaemon, type DaemonOptions } from '../daemon';
import { watchStopSignals } from '../daemon/stop-signals';
import { isBridgeError, type BridgeError } from '../errors';
import { collect, CONFIG_HELP, loadCliConfig, resolveMappingPath, storeOpenFailure } from './daemon-config';
import { EXIT, type CliIo, type ExitCode } from './io';
import { loadMappingFile } from './read-mapping';

export interface StartOptions {
  config: string[];
  printConfig?: boolean;
}

/**
 * `portal-bridge start`: validates the configuration and the mapping (every problem at once, exit 2), then runs
 * the daemon until `until` resolves (SIGTERM / SIGINT in the CLI) and stops it gracefully: exit 0. The daemon
 * logs JSON lines to stdout; this command prints nothing else there. `--print-config` checks everything and
 * prints the effective configuration (secrets masked) instead of starting.
 */
export async function startCommand(opts: StartOptions, io: CliIo, until: Promise<string>, extra: Partial<Pick<DaemonOptions, 'logStream' | 'timing'>> = {}): Promise<ExitCode> {
  const config = loadCliConfig(opts.config, io, 'nothing was started');
  if (config === undefined) return EXIT.usage;
  if (opts.printConfig === true) io.out(describeConfig(config).replace(/\n$/, ''));
  const mappings = loadConfiguredMappings(config, io);
  if (mappings === undefined) return EXIT.usage;
  if (opts.printConfig === true) return EXIT.ok;
  let daemon;
  try {
    daemon = await startDaemon({ config, mapping: mappings.primary, otherMappings: mappings.others, logStream: extra.logStream ?? lineStream(io), ...(extra.timing !== undefined && { timing: extra.timing }) });
  } catch (e) {
    if (isConnectorFailure(e)) {
      io.err(`portal-bridge: ${e.message} [${e.code}]; nothing was started`);
      return e.code === 'ERR_CONFIG_INVALID' ? EXIT.usage : EXIT.failure;
    }
    return storeOpenFailure(e, config, io);
  }
  await daemon.stop(await until);
  return EXIT.ok;
}

/**
 * `mapping.path` and `mapping.others`, validated: every problem of every file, one file per input format, and the
 * same policy block in all of them (one policy decides who gets access, whatever the input format).
 */
function loadConfiguredMappings(config: Config, io: CliIo): { primary: Mapping; others: Mapping[] } | undefined {
  const files = [{ option: 'mapping.path', file: resolveMappingPath(config.mapping.path) }, ...config.mapping.others.map((f, i) => ({ option: `mapping.others.${i}`, file: resolveMappingPath(f) }))];
  const loaded: Mapping[] = [];
  for (const { option, file } of files) {
    const result = loadMappingFile(file);
    if (!result.ok) {
      io.err(`portal-bridge: mapping ${file} (${option}) has ${result.problems.length} problem(s); nothing was started:`);
      io.err(result.problems.map((p) => `  ${formatProblem(p)}`).join('\n'));
      return undefined;
    }
    loaded.push(result.mapping);
  }
  const [primary, ...others] = loaded as [Mapping, ...Mapping[]];
  for (const [i, other] of others.entries()) {
    const file = files[i + 1]?.file ?? '';
    if (other.format === primary.format) {
      io.err(`portal-bridge: mapping ${file} (mapping.others.${i}) is a ${other.format} mapping like mapping.path: give one mapping per input format; nothing was started`);
      return undefined;
    }
    if (JSON.stringify(other.policy) !== JSON.stringify(primary.policy)) {
      io.err(`portal-bridge: the policy block of ${file} (mapping.others.${i}) differs from mapping.path's: one policy decides who gets access, make them the same; nothing was started`);
      return undefined;
    }
  }
  return { primary, others };
}

/** A connector that could not start (connectors/registry.ts names it first in its message). */
function isConnectorFailure(e: unknown): e is BridgeError {
  return isBridgeError(e) && (e.code === 'ERR_CONNECTOR_START' || (e.code === 'ERR_CONFIG_INVALID' && e.message.startsWith('connector ')));
}

/** The daemon's JSON log lines, through the CLI's stdout. */
function lineStream(io: CliIo): Writable {
  return new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      io.out(chunk.toString());
      callback();
    },
  });
}

export function registerStart(program: Command, io: CliIo, done: (code: ExitCode) => void): void {
  program
    .command('start')
    .description('run the daemon: the connectors (MLLP, file drop), ingest, reconcile guardians with the portal, the schedules')
    .option('-c, --config <file>', CONFIG_HELP, collect, [])
    .option('--print-config', 'check the configuration and the mapping, print the effective configuration (secrets masked), do not start')
    .addHelpText(
      'after',
      `
Configuration, later wins: config/default.yaml -> config/<env>.yaml -> --config files -> PORTAL_BRIDGE_* environment
(e.g. PORTAL_BRIDGE_JOBS_CONCURRENCY=8). Every problem is listed at once and nothing starts (exit 2).
Logs are JSON lines on stdout. SIGTERM or Ctrl-C stops taking new work, lets work in flight finish, exits 0
(a second signal exits at once): the connectors stop first, storing and answering what they have already read.

Connectors are declared in a config file (connectors/hl7v2/README.md, connectors/fhir/README.md):
  connectors:
    - { kind: hl7v2-mllp, name: adt, port: 2575 }          # MLLP listener on 127.0.0.1:2575
    - { kind: hl7v2-file, name: drop, dir: /var/hl7/in }   # file drop: processed/ and error/ beside the files
    - { kind: fhir-poll, name: ehr-fhir, baseUrl: "https://ehr.example.org/fhir/R4" }   # needs a FHIR mapping
\`portal-bridge status\` shows each channel's counts (received, accepted, rejected, duplicate, last message).

Examples:
  $ portal-bridge sandbox-portal --port 8085 &        # a local portal to try it against
  $ portal-bridge start
  $ portal-bridge start --config config/site.yaml --print-config
  $ PORTAL_BRIDGE_PORTAL_API_TOKEN=... portal-bridge start --config config/production.yaml

Exit status: 0 stopped by a signal, 1 runtime failure (e.g. database unreachable), 2 configuration or mapping problem.`,
    )
    .action(async (opts: StartOptions) => {
      const signals = watchStopSignals(() => process.exit(EXIT.failure));
      try {
        done(await startCommand(opts, io, signals.first));
      } finally {
        signals.dispose();
      }
    });
}
