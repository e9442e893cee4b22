import { InvalidArgumentError, Option, type Command } from 'commander';
import { runBackfill, type BackfillReport } from '../../connectors/fhir/backfill';
import { FHIR_ID, type FhirPollConnectorConfig } from '../../connectors/fhir/config';
import type { FhirHttp } from '../../connectors/fhir/fhir-http';
import { createConnectorHttp } from '../../connectors/fhir/poll-connector';
import type { Config } from '../config/schema';
import { isBridgeError } from '../errors';
import { createLogger, type Logger } from '../log';
import { createProgressDisplay, type ProgressTerminal } from './backfill-progress';
import { collect, CONFIG_HELP, loadCliConfig, withCliStore } from './daemon-config';
import { EXIT, processIo, UsageError, type CliIo, type ExitCode } from './io';

export interface BackfillCommandOptions {
  config: string[];
  from: 'fhir';
  connector?: string;
  since?: Date;
  group?: string;
  restart?: boolean;
  json?: boolean;
}

/**
 * `portal-bridge backfill --from fhir`: reads everything the FHIR server holds of a fhir-poll connector's types into
 * its inbox (connectors/fhir/backfill.ts: Bulk Data $export, or paging), resumable after any stop; the daemon
 * (running or started later) ingests and reconciles it. Progress on stderr (a self-rewriting line on a terminal),
 * the summary or `--json` report on stdout.
 */
export async function backfillCommand(opts: BackfillCommandOptions, io: CliIo, terminal?: ProgressTerminal): Promise<ExitCode> {
  const config = loadCliConfig(opts.config, io);
  if (config === undefined) return EXIT.usage;
  const connector = pickConnector(config, opts.connector);
  const group = opts.group ?? connector.exportGroup;
  const quiet = opts.json === true;
  const progress = createProgressDisplay(io, quiet ? undefined : terminal, quiet);
  // On a terminal or with --json, only warnings and errors are logged (to stderr): the line and the report say the rest.
  const level = quiet || terminal?.isTTY === true ? 'warn' : config.log.level;
  const log = createLogger({ level, base: { service: 'portal-bridge', command: 'backfill' }, stream: progress.logStream });
  let http: FhirHttp;
  try {
    http = await connectorHttp(connector, log);
  } catch (e) {
    if (isBridgeError(e) && e.code === 'ERR_CONFIG_INVALID') throw new UsageError(`connector "${connector.name}": ${e.message}`);
    throw e;
  }
  return withCliStore(config, io, async (store) => {
    let report: BackfillReport;
    try {
      await store.migrate();
      report = await runBackfill({
        name: connector.name,
        http,
        store,
        log,
        resourceTypes: connector.resourceTypes,
        relatedPersonSearch: connector.relatedPersonSearch,
        ...(opts.since !== undefined && { since: opts.since }),
        ...(group !== undefined && { group }),
        ...(opts.restart === true && { restart: true }),
        onProgress: (p) => progress.update(p),
      });
    } catch (e) {
      progress.end();
      if (!isBridgeError(e)) throw e;
      io.err(
        `portal-bridge: the backfill of "${connector.name}" stopped: ${e.message} [${e.code}]. What was stored is kept: ` +
          'run the same command again to resume (add --restart to start over instead).',
      );
      return e.code === 'ERR_CONFIG_INVALID' ? EXIT.usage : EXIT.failure;
    }
    progress.end();
    if (opts.json === true) io.out(JSON.stringify({ connector: connector.name, ...report }));
    else io.out(summary(connector.name, report));
    return EXIT.ok;
  });
}

/** The config's fhir-poll connector: the one there is, or the one `--connector` names. */
export function pickConnector(config: Config, wanted: string | undefined): FhirPollConnectorConfig {
  const polls = config.connectors.filter((c): c is FhirPollConnectorConfig => c.kind === 'fhir-poll');
  const names = polls.map((c) => `"${c.name}"`).join(', ');
  if (polls.length === 0) {
    throw new UsageError(
      'the configuration declares no fhir-poll connector to backfill: add one under `connectors:`, e.g.\n' +
        '  connectors:\n    - { kind: fhir-poll, name: ehr-fhir, baseUrl: https://ehr.example.org/fhir/R4 }\n' +
        '(connectors/fhir/README.md lists its options: auth, resourceTypes…)',
    );
  }
  if (wanted !== undefined) {
    const found = polls.find((c) => c.name === wanted);
    if (found === undefined) throw new UsageError(`no fhir-poll connector is named "${wanted}": the configuration has ${names}`);
    return found;
  }
  const only = polls[0];
  if (polls.length > 1 || only === undefined) throw new UsageError(`the configuration has ${polls.length} fhir-poll connectors (${names}): name one with --connector <name>`);
  return only;
}

/** SMART auth (when configured) and the FHIR client, as the daemon's fhir-poll connector builds them. */
function connectorHttp(config: FhirPollConnectorConfig, log: Logger): Promise<FhirHttp> {
  return createConnectorHttp(config, log.child({ channel: config.name, connector: 'fhir-backfill' }));
}

function summary(name: string, r: BackfillReport): string {
  const at = r.transactionTime === undefined ? '' : `, as of ${r.transactionTime}`;
  if (r.alreadyDone) {
    return `the backfill of "${name}" was already done (${r.mode}${at}): nothing read. --restart reads everything again; --since <date> reads what changed since then.`;
  }
  const read = r.stored + r.duplicate + r.rejected;
  const types = Object.entries(r.byType).map(([type, n]) => `${type} ${n}`).join(', ');
  return [
    `the backfill of "${name}" is done (${r.mode === 'export' ? 'Bulk Data export' : 'paging'}${at}${r.resumed ? ', resumed' : ''}) in ${r.seconds} s:`,
    `  ${read} resource(s) read${types === '' ? '' : ` (${types})`}: ${r.stored} new, ${r.duplicate} already in the inbox, ${r.rejected} rejected`,
    'The daemon (running, or when started) ingests and reconciles them; rejected rows: `portal-bridge failures list --rejected`.',
  ].join('\n');
}

/** `--since`: a date (UTC midnight) or an RFC 3339 instant with its offset. */
export function parseSince(value: string): Date {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const day = new Date(`${value}T00:00:00.000Z`);
    if (!Number.isNaN(day.getTime()) && day.toISOString().startsWith(value)) return day;
  } else if (/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:\d{2})$/.test(value)) {
    const ms = Date.parse(value.replace(' ', 'T'));
    if (!Number.isNaN(ms)) return new Date(ms);
  }
  throw new InvalidArgumentError('expected a date (YYYY-MM-DD, midnight UTC) or an RFC 3339 instant with its offset, e.g. 2026-01-31T18:00:00Z');
}

/** `--group`: a FHIR id, as the connector's exportGroup. */
export function parseGroupId(value: string): string {
  if (FHIR_ID.test(value)) return value;
  throw new InvalidArgumentError('expected a FHIR Group id: letters, digits, - and ., at most 64');
}

export function registerBackfill(program: Command, io: CliIo, done: (code: ExitCode) => void): void {
  program
    .command('backfill')
    .description("read everything the EHR holds into a connector's inbox (FHIR Bulk Data $export, or paging); resumable")
    .addOption(new Option('--from <source>', 'where to read from').choices(['fhir']).makeOptionMandatory())
    .option('--connector <name>', 'the fhir-poll connector to fill (needed when the configuration has several)')
    .option('--since <date>', 'only what changed since then: YYYY-MM-DD (midnight UTC) or an RFC 3339 instant', parseSince)
    .option('--group <id>', "export this FHIR Group (Group/<id>/$export) instead of the whole server; default: the connector's exportGroup", parseGroupId)
    .option('--restart', 'forget a stored backfill (unfinished or done) and start over')
    .option('-c, --config <file>', CONFIG_HELP, collect, [])
    .option('--json', 'no progress; print the report {connector, mode, phase, byType, stored, duplicate, rejected, resumed, alreadyDone, transactionTime, seconds}')
    .addHelpText(
      'after',
      `
Reads the types of the fhir-poll connector (resourceTypes) with its baseUrl and auth, and stores one inbox row
per resource version on that connector's channel; the daemon, running or started later, maps and reconciles
them. With Bulk Data $export (kick-off, status polls honouring Retry-After, NDJSON files streamed) when the server
offers it, else paging through searches. Resources already in the inbox count as duplicates, never twice.
With a Group (--group, or exportGroup in the connector's config) only Group/<id>/$export is used — the Group's
patients and their RelatedPersons and Appointments; Epic and Oracle Health give backend apps this export only.

Stopping is safe (Ctrl-C, a crash, the server down): every batch is stored with the backfill's position, and
running the same command again resumes there. Once done, the same command says so and reads nothing; the
poller then carries on from the export's time instead of reading everything again.

Examples:
  $ portal-bridge backfill --from fhir
  $ portal-bridge backfill --from fhir --since 2025-01-01 --connector ehr-fhir
  $ portal-bridge backfill --from fhir --group practice-patients
  $ portal-bridge backfill --from fhir --restart --json --config config/production.yaml

Exit status: 0 done (or already done), 1 stopped (server unreachable after retries, database down: run it
again to resume), 2 configuration problem or bad option.`,
    )
    .action(async (opts: BackfillCommandOptions) => done(await backfillCommand(opts, io, io === processIo ? process.stderr : undefined)));
}
