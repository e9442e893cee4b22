import type { Command } from 'commander';
import { releaseUnlinkGuard } from '../reconcile/unlink-guard';
import { collect, CONFIG_HELP } from './daemon-config';
import { EXIT, UsageError, type CliIo, type ExitCode } from './io';
import { withMigratedStore } from './open-store';

export interface GuardReleaseOptions {
  config: string[];
  minutes: string;
  json?: boolean;
}

/**
 * `portal-bridge guard release`: after a person checked the unlinks the mass-unlink guard held (`failures list`
 * shows them as ERR_GUARD_MASS_UNLINK), lets unlinks through for a while and requeues the held jobs.
 */
export async function guardRelease(opts: GuardReleaseOptions, io: CliIo, now: Date = new Date()): Promise<ExitCode> {
  const minutes = Number(opts.minutes);
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 24 * 60) throw new UsageError(`--minutes must be a whole number from 1 to 1440, got "${opts.minutes}"`);
  const until = new Date(now.getTime() + minutes * 60_000);
  const keys = await withMigratedStore(opts.config, ({ store }) => releaseUnlinkGuard(store, until, now));
  if (opts.json === true) io.out(JSON.stringify({ releasedUntil: until.toISOString(), requeued: keys.length }));
  else io.out(`unlinks allowed until ${until.toISOString()}; ${keys.length} held job(s) queued again`);
  return EXIT.ok;
}

export function registerGuard(program: Command, io: CliIo, done: (code: ExitCode) => void): void {
  const guard = program.command('guard').description('the mass-unlink guard: a bad feed must not strip the portal in one night');
  guard
    .command('release')
    .description('let held unlinks through for a while and requeue the jobs the guard held')
    .option('--minutes <n>', 'how long unlinks are allowed', '60')
    .option('-c, --config <file>', CONFIG_HELP, collect, [])
    .option('--json', 'print {releasedUntil, requeued}')
    .addHelpText(
      'after',
      `
When more than guards.massUnlinkShare of all links would go within guards.windowMinutes, the unlinks are held
and the jobs show in \`portal-bridge failures list\` as ERR_GUARD_MASS_UNLINK. Check them first
(\`portal-bridge replay --dry-run <id>\` shows what would be removed), then:

Examples:
  $ portal-bridge guard release
  $ portal-bridge guard release --minutes 15 --config config/production.yaml`,
    )
    .action(async (opts: GuardReleaseOptions) => done(await guardRelease(opts, io)));
}
