import { InvalidArgumentError, type Command } from 'commander';
import { createRefs } from '../refs';
import { failedJobItem, formatFailureList, rejectedInboxItem } from '../support/failure-list';
import { formatInboxDetail, formatJobDetail, inboxDetail, jobDetail } from '../support/failure-detail';
import { createMasker } from '../support/masking';
import { parseSupportId } from '../support/support-ids';
import { EXIT, UsageError, type CliIo, type ExitCode } from './io';
import { collect, CONFIG_HELP } from './daemon-config';
import { withMigratedStore } from './open-store';

/** Audit rows shown with a job or inbox row. */
const AUDIT_ROWS = 20;

export interface FailuresListOptions {
  config?: string[];
  json?: boolean;
  limit: number;
}

export interface FailuresShowOptions {
  config?: string[];
  json?: boolean;
  unmask?: boolean;
}

/** `portal-bridge failures list`: failed jobs and rejected inbox rows (DESIGN §6), masked. */
export async function failuresList(opts: FailuresListOptions, io: CliIo): Promise<ExitCode> {
  return withMigratedStore(opts.config ?? [], async ({ config, store }) => {
    const m = createMasker(createRefs(config.log.refKey));
    const list = {
      jobs: (await store.jobs.listFailed({ limit: opts.limit })).map((j) => failedJobItem(j, m)),
      rejected: (await store.inbox.listRejected({ limit: opts.limit })).map((r) => rejectedInboxItem(r, m)),
    };
    io.out(opts.json === true ? JSON.stringify(list) : formatFailureList(list, opts.limit));
    return EXIT.ok;
  });
}

/** `portal-bridge failures show <id>`: one job or inbox row, the reason in words, people masked unless --unmask. */
export async function failuresShow(idText: string, opts: FailuresShowOptions, io: CliIo): Promise<ExitCode> {
  const id = parseSupportId(idText);
  if (id === undefined) throw new UsageError(`"${idText}" is not an id: give job:<n> (or <n>) or inbox:<n>, as \`portal-bridge failures list\` prints them`);
  return withMigratedStore(opts.config ?? [], async ({ config, store }) => {
    const m = createMasker(createRefs(config.log.refKey), { unmask: opts.unmask === true });
    if (id.kind === 'job') {
      const job = await store.jobs.getJob({ id: id.id });
      if (job === undefined) return notFound(io, `no job ${id.id}`);
      const account = await store.ledger.getAccount(job.key);
      const detail = jobDetail(
        {
          job,
          ...(account !== undefined && { account }),
          links: await store.ledger.listLinks(job.key),
          invitations: await store.ledger.listInvitations(job.key),
          audit: await store.audit.listAudit({ guardianKey: job.key, limit: AUDIT_ROWS }),
        },
        m,
      );
      io.out(opts.json === true ? JSON.stringify(detail) : formatJobDetail(detail));
      return EXIT.ok;
    }
    const row = await store.inbox.getInbox(id.id);
    if (row === undefined) return notFound(io, `no inbox row ${id.id}`);
    const detail = inboxDetail(row, await store.audit.listAudit({ inboxId: row.id, limit: AUDIT_ROWS }), m);
    io.out(opts.json === true ? JSON.stringify(detail) : formatInboxDetail(detail));
    return EXIT.ok;
  });
}

function notFound(io: CliIo, what: string): ExitCode {
  io.err(`portal-bridge: ${what} (\`portal-bridge failures list\` prints the ids)`);
  return EXIT.failure;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/u.test(value) || n < 1 || n > 10_000) throw new InvalidArgumentError('expected an integer from 1 to 10000');
  return n;
}

export function registerFailures(program: Command, io: CliIo, done: (code: ExitCode) => void): void {
  const failures = program
    .command('failures')
    .description('the support queue: failed jobs and rejected inbox rows, why, in words (patient data masked)')
    .addHelpText('after', '\nStart with:\n  $ portal-bridge failures list\n  $ portal-bridge failures show job:12');
  failures
    .command('list')
    .description('list failed jobs (guardian ref, attempts, error code and what it means) and rejected inbox rows')
    .option('-c, --config <file>', CONFIG_HELP, collect, [])
    .option('--limit <n>', 'at most n of each (most recent first)', positiveInt, 50)
    .option('--json', 'print one object {jobs:[{id, guardian, attempts, code, meaning, errorClass, error, failedAt}], rejected:[{id, source, format, controlId, receivedAt, code, meaning, error}]}')
    .addHelpText(
      'after',
      `
Guardians are shown by ref (g_...), never by key: a key holds an email and a name.

Examples:
  $ portal-bridge failures list
  $ portal-bridge failures list --config config/production.yaml --limit 200 --json

Exit status: 0 listed (also when empty), 2 bad option, config or missing database, 1 database unreachable.`,
    )
    .action(async (opts: FailuresListOptions) => done(await failuresList(opts, io)));
  failures
    .command('show')
    .description('explain one failed job or rejected inbox row: the reason in words, retries, the last error, recent audit rows')
    .argument('<id>', 'job:<n> (or just <n>) for a job, inbox:<n> for an inbox row')
    .option('-c, --config <file>', CONFIG_HELP, collect, [])
    .option('--unmask', 'show emails, names, phones, patient ids and the raw message as stored: only for staff who need them (the output then holds patient data)')
    .option('--json', 'print the explanation as one JSON object')
    .addHelpText(
      'after',
      `
By default no patient data is shown: emails masked (a***@example.org), names as initials, phones as their last
two digits, patient ids and guardians as refs (p_..., g_...), and an inbox row's raw message not at all.

Examples:
  $ portal-bridge failures show job:12
  $ portal-bridge failures show inbox:7 --json
  $ portal-bridge failures show 12 --unmask

Exit status: 0 shown, 1 no such id, 2 bad id, option, config or missing database.`,
    )
    .action(async (id: string, opts: FailuresShowOptions) => done(await failuresShow(id, opts, io)));
}
