import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { emailKey, maskEmail } from '../core/identity';
import { createRefs } from '../refs';
import type { Store } from '../store';
import type { AccountRecord } from '../store/ledger';
import { collect, CONFIG_HELP } from './daemon-config';
import { EXIT, UsageError, type CliIo, type ExitCode } from './io';
import { withMigratedStore } from './open-store';

export interface ResendOptions {
  config: string[];
  requestId?: string;
  by?: string;
  json?: boolean;
}

/**
 * `portal-bridge resend <email>`: staff ask for the welcome again (DESIGN §5 trigger `resend:<request id>`, R18).
 * The guardian's next reconcile sends it once — only while the account is not yet activated; the same request id
 * never sends twice, whatever is replayed.
 */
export async function resendCommand(email: string, opts: ResendOptions, io: CliIo, now: Date = new Date()): Promise<ExitCode> {
  const key = emailKey(email);
  if (key === undefined || !key.includes('@')) throw new UsageError(`"${email}" is not an email address: give the parent's login email`);
  const requestId = opts.requestId ?? `${now.toISOString().replace(/[-:.TZ]/g, '').slice(0, 14)}-${randomBytes(3).toString('hex')}`;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(requestId)) throw new UsageError('--request-id takes 1-64 letters, digits, dots, dashes or underscores');
  return withMigratedStore(opts.config, async ({ config, store }) => {
    const refs = createRefs(config.log.refKey);
    const accounts = await accountsWithEmail(store, key);
    if (accounts.length === 0) {
      io.err(`no portal account with the login ${maskEmail(email)}: nothing to resend (\`portal-bridge failures list\` shows held or failed guardians)`);
      return EXIT.failure;
    }
    const trigger = `resend:${requestId}`;
    await store.transaction(async (tx) => {
      await tx.welcomeTriggers.addWelcomeTriggers(accounts.map((a) => ({ guardianKey: a.guardianKey, trigger })), { now });
      await tx.jobs.enqueue(accounts.map((a) => a.guardianKey), { now });
      await tx.audit.appendAudit(accounts.map((a) => ({ at: now, actor: opts.by ?? 'cli', guardianKey: a.guardianKey, op: 'resend-requested', detail: { trigger } })));
    });
    const result = accounts.map((a) => ({ guardian: refs.guardian(a.guardianKey), status: a.status, willSend: a.status === 'invited' && a.createdBy === 'bridge' }));
    if (opts.json === true) io.out(JSON.stringify({ trigger, accounts: result }));
    else {
      for (const r of result) {
        io.out(
          r.willSend
            ? `${r.guardian}: welcome queued (${trigger}); the daemon sends it once`
            : `${r.guardian}: not sent — the account is ${r.status === 'invited' ? 'staff-created (they have a temporary password)' : r.status}; a welcome only goes to accounts not yet activated`,
        );
      }
    }
    return EXIT.ok;
  });
}

async function accountsWithEmail(store: Store, key: string): Promise<AccountRecord[]> {
  const out: AccountRecord[] = [];
  for (let offset = 0; ; offset += 500) {
    const page = await store.ledger.listAccounts({ limit: 500, offset });
    out.push(...page.filter((a) => emailKey(a.email) === key));
    if (page.length < 500) return out;
  }
}

export function registerResend(program: Command, io: CliIo, done: (code: ExitCode) => void): void {
  program
    .command('resend')
    .description("queue the welcome again for a parent's portal account (only sent while the account is not yet activated)")
    .argument('<email>', "the parent's login email")
    .option('--request-id <id>', 'names this request: the same id never sends twice (default: time + random)')
    .option('--by <staff-id>', 'who asked, for the audit trail')
    .option('-c, --config <file>', CONFIG_HELP, collect, [])
    .option('--json', 'print {trigger, accounts:[{guardian, status, willSend}]}')
    .addHelpText(
      'after',
      `
Examples:
  $ portal-bridge resend ada.parent@example.org
  $ portal-bridge resend ada.parent@example.org --request-id ticket-4711 --by frontdesk-2

Exit status: 0 queued (or explained why it will not be sent), 1 no account with that login, 2 bad usage.`,
    )
    .action(async (email: string, opts: ResendOptions) => done(await resendCommand(email, opts, io)));
}
