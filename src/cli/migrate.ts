import type { Command } from 'commander';
import { EXIT, type CliIo, type ExitCode } from './io';
import { collect, CONFIG_HELP, describeStore, loadCliConfig, withCliStore } from './daemon-config';

export interface MigrateOptions {
  config: string[];
  json?: boolean;
}

/** `portal-bridge migrate`: applies the migrations the database lacks and prints them. Idempotent. */
export async function migrateCommand(opts: MigrateOptions, io: CliIo): Promise<ExitCode> {
  const config = loadCliConfig(opts.config, io);
  if (config === undefined) return EXIT.usage;
  return withCliStore(config, io, async (store) => {
    const applied = await store.migrate();
    const where = describeStore(config);
    if (opts.json === true) io.out(JSON.stringify({ store: where, applied }));
    else if (applied.length === 0) io.out(`${where}: up to date, no migration to apply`);
    else io.out(`${where}: applied ${applied.length} migration(s):\n${applied.map((m) => `  ${m}`).join('\n')}`);
    return EXIT.ok;
  });
}

export function registerMigrate(program: Command, io: CliIo, done: (code: ExitCode) => void): void {
  program
    .command('migrate')
    .description('create or update the database tables (start does this too); prints the migrations applied')
    .option('-c, --config <file>', CONFIG_HELP, collect, [])
    .option('--json', 'print {store, applied: [names]}')
    .addHelpText(
      'after',
      `
Examples:
  $ portal-bridge migrate
  $ PORTAL_BRIDGE_DATABASE_URL=postgres://bridge:secret@db:5432/portal_bridge portal-bridge migrate --json

Exit status: 0 done (or nothing to do), 1 database unreachable, 2 configuration problem.`,
    )
    .action(async (opts: MigrateOptions) => done(await migrateCommand(opts, io)));
}
