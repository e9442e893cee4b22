import type { Command } from 'commander';
import { localDate } from '../core/age';
import { formatExplanation } from '../explain/format-text';
import { explain, toJson } from '../explain/report';
import { EXIT, type CliIo, type ExitCode } from './io';
import { readMapping } from './read-mapping';
import { parseAsOf, readInputs } from './read-inputs';

export interface ExplainOptions {
  mapping: string;
  asOf?: string;
  json?: boolean;
}

/** `portal-bridge mappings explain`: what the mapping makes of the inputs, and who would get portal access. */
export function explainCommand(inputs: readonly string[], opts: ExplainOptions, io: CliIo, now: Date = new Date()): ExitCode {
  const mapping = readMapping(opts.mapping);
  const asOf = opts.asOf !== undefined ? parseAsOf(opts.asOf) : localDate(now.toISOString(), mapping.policy.timeZone);
  const explanation = explain(readInputs(inputs), mapping, asOf);
  const json = toJson(explanation);
  io.out(opts.json === true ? JSON.stringify(json, null, 2) : formatExplanation(json, explanation));
  return EXIT.ok;
}

export function registerExplain(mappings: Command, io: CliIo, done: (code: ExitCode) => void): void {
  mappings
    .command('explain')
    .description('apply a mapping to HL7 v2 / FHIR files and show every access decision with its rule and reason')
    .argument('<input...>', 'HL7 files (one or many messages, FHS/BHS batches, CR/LF/CRLF) or FHIR JSON (resource or Bundle); a directory means its files')
    .requiredOption('-m, --mapping <file>', 'mapping file, e.g. mappings/hl7v2-default.yaml')
    .option('--as-of <YYYY-MM-DD>', "date ages are computed on (default: today in the mapping's policy.timeZone)")
    .option('--json', 'print one JSON object {asOf, inputs, decisions, accounts, conflicts}')
    .addHelpText(
      'after',
      `
Messages are applied in the order given to one in-memory snapshot (a newer message wins, an older one
arriving late changes nothing); eligibility rules R01-R15/R20 then run across all of them.

Examples:
  $ portal-bridge mappings explain -m mappings/hl7v2-default.yaml mappings/examples/siblings-one-parent
  $ portal-bridge mappings explain -m mappings/fhir-default.yaml --as-of 2026-01-15 --json bundle.json

Exit status: 0 explained (rejected messages are listed, with their reason), 2 bad mapping, input or option.`,
    )
    .action((inputs: string[], opts: ExplainOptions) => done(explainCommand(inputs, opts, io)));
}
