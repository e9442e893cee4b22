import { InvalidArgumentError, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import { inboxItemsFromText } from '../daemon/inbox-items';
import { BridgeError } from '../errors';
import type { NewInboxItem } from '../store/inbox';
import { collect, CONFIG_HELP, loadCliConfig, withCliStore } from './daemon-config';
import { EXIT, UsageError, type CliIo, type ExitCode } from './io';

export interface IngestOptions {
  config: string[];
  source: string;
  json?: boolean;
}

interface FileItems {
  readonly file: string;
  readonly items: readonly NewInboxItem[];
}

/**
 * `portal-bridge ingest <file>...`: stores HL7 v2 / FHIR JSON files in the inbox as a connector would
 * (inbox-items.ts); the daemon (running or started later) maps and reconciles them. Every file is read before
 * anything is stored, so a bad path stores nothing. Prints how many inputs were new and how many the inbox
 * already held (same source and dedupe key).
 */
export async function ingestCommand(files: readonly string[], opts: IngestOptions, io: CliIo): Promise<ExitCode> {
  const config = loadCliConfig(opts.config, io);
  if (config === undefined) return EXIT.usage;
  const perFile = files.map((file): FileItems => {
    const items = inboxItemsFromText(readInput(file), opts.source);
    if (items.length === 0) throw new UsageError(`${file} holds no HL7 v2 message or FHIR JSON`);
    return { file, items };
  });
  return withCliStore(config, io, async (store) => {
    await store.migrate();
    const results = await store.inbox.acceptInbox(perFile.flatMap((f) => f.items));
    let offset = 0;
    const report = perFile.map(({ file, items }) => {
      const mine = results.slice(offset, offset + items.length);
      offset += items.length;
      const duplicate = mine.filter((r) => r.duplicate).length;
      return { file, new: mine.length - duplicate, duplicate };
    });
    const fresh = report.reduce((n, r) => n + r.new, 0);
    const duplicate = report.reduce((n, r) => n + r.duplicate, 0);
    if (opts.json === true) io.out(JSON.stringify({ source: opts.source, new: fresh, duplicate, files: report }));
    else {
      for (const r of report) io.out(`${r.file}: ${r.new} new, ${r.duplicate} duplicate`);
      io.out(`stored ${fresh} new input(s) in the inbox (source "${opts.source}"); ${duplicate} duplicate(s) were already there`);
    }
    return EXIT.ok;
  });
}

function readInput(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new BridgeError('ERR_INPUT_UNREADABLE', `cannot read input ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

function sourceName(value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(value)) throw new InvalidArgumentError('letters, digits, ".", "_" or "-", at most 64 characters');
  return value;
}

export function registerIngest(program: Command, io: CliIo, done: (code: ExitCode) => void): void {
  program
    .command('ingest')
    .description('store HL7 v2 / FHIR JSON files in the inbox, as a connector would; the daemon processes them')
    .argument('<file...>', 'HL7 v2 files (one or many messages each) or FHIR JSON files (one inbox row each)')
    .option('-c, --config <file>', CONFIG_HELP, collect, [])
    .option('--source <name>', 'the channel the inputs count as received on (a duplicate is the same dedupe key on the same source)', sourceName, 'cli')
    .option('--json', 'print {source, new, duplicate, files: [{file, new, duplicate}]}')
    .addHelpText(
      'after',
      `
Dedupe: an HL7 message by its MSH-10 (else a hash of its text), a FHIR file by a hash of its text; storing the
same input again on the same source is counted as a duplicate and stored once.

Examples:
  $ portal-bridge ingest mappings/examples/siblings-one-parent/input-*.hl7
  $ portal-bridge ingest --source ehr-fhir --json bundle.json

Exit status: 0 stored, 1 database unreachable, 2 configuration problem or unreadable file.`,
    )
    .action(async (files: string[], opts: IngestOptions) => done(await ingestCommand(files, opts, io)));
}
