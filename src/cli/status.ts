import type { Command } from 'commander';
import type { ConnectorConfig } from '../config/schema';
import type { ChannelStats, InboxStatus, JobCounts } from '../store';
import { collect, CONFIG_HELP } from './daemon-config';
import { EXIT, type CliIo, type ExitCode } from './io';
import { withMigratedStore } from './open-store';

export interface StatusOptions {
  config: string[];
  json?: boolean;
}

/** One channel in `status`: its counters, its configured connector (if any) and its inbox rows now. */
export interface ChannelStatus {
  readonly name: string;
  /** The connector kind from the config, or undefined for a source no connector of the config has (`ingest`). */
  readonly kind?: string;
  readonly received: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly duplicate: number;
  readonly lastMessageAt?: string;
  /** Inbox rows not yet ingested. */
  readonly waiting: number;
}

export interface StatusReport {
  readonly channels: readonly ChannelStatus[];
  readonly jobs: JobCounts;
}

/**
 * `portal-bridge status`: per channel, what came in (received = accepted + rejected + duplicate), when the last
 * message arrived and how many wait to be ingested; then the job queue. Read from the store, so it works whether
 * the daemon runs or not, and across several daemons on one PostgreSQL.
 */
export async function statusCommand(opts: StatusOptions, io: CliIo): Promise<ExitCode> {
  const report = await withMigratedStore(opts.config, async ({ config, store }) =>
    buildStatus(config.connectors, await store.inbox.channelStats(), await store.inbox.inboxCounts(), await store.jobs.counts()),
  );
  if (opts.json === true) {
    io.out(JSON.stringify(report));
    return EXIT.ok;
  }
  io.out(formatStatus(report));
  return EXIT.ok;
}

export function buildStatus(
  connectors: readonly ConnectorConfig[],
  stats: readonly ChannelStats[],
  inbox: readonly { source: string; status: InboxStatus; count: number }[],
  jobs: JobCounts,
): StatusReport {
  const names = [...new Set([...connectors.map((c) => c.name), ...stats.map((s) => s.source)])];
  const channels = names.map((name): ChannelStatus => {
    const kind = connectors.find((c) => c.name === name)?.kind;
    const s = stats.find((x) => x.source === name);
    const waiting = inbox.filter((r) => r.source === name && r.status === 'received').reduce((n, r) => n + r.count, 0);
    return {
      name,
      ...(kind !== undefined && { kind }),
      received: s?.received ?? 0,
      accepted: s?.accepted ?? 0,
      rejected: s?.rejected ?? 0,
      duplicate: s?.duplicate ?? 0,
      ...(s !== undefined && { lastMessageAt: s.lastMessageAt }),
      waiting,
    };
  });
  return { channels, jobs };
}

export function formatStatus(report: StatusReport): string {
  const header = ['channel', 'kind', 'received', 'accepted', 'rejected', 'duplicate', 'waiting', 'last message'];
  const rows = report.channels.map((c) => [
    c.name,
    c.kind ?? '(no connector)',
    String(c.received),
    String(c.accepted),
    String(c.rejected),
    String(c.duplicate),
    String(c.waiting),
    c.lastMessageAt ?? 'never',
  ]);
  const lines: string[] = [];
  if (rows.length === 0) lines.push('no channel has received anything, and the configuration declares no connector');
  else {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const line = (cells: readonly string[]): string => cells.map((cell, i) => (i >= 2 && i <= 6 ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
    lines.push(line(header), ...rows.map(line));
  }
  const j = report.jobs;
  lines.push('', `jobs: ${j.queued} queued, ${j.running} running, ${j.failed} failed (portal-bridge failures list), ${j.succeeded} succeeded`);
  return lines.join('\n');
}

export function registerStatus(program: Command, io: CliIo, done: (code: ExitCode) => void): void {
  program
    .command('status')
    .description("each channel's counts (received, accepted, rejected, duplicate, waiting, last message) and the job queue")
    .option('-c, --config <file>', CONFIG_HELP, collect, [])
    .option('--json', 'print {channels: [{name, kind, received, accepted, rejected, duplicate, lastMessageAt, waiting}], jobs}')
    .addHelpText(
      'after',
      `
received    every message that came in on the channel, retransmissions included
accepted    stored and answered AA (or CA): the daemon maps it and reconciles the guardians it touches
rejected    stored with the reason and answered AE/AR (CE/CR): \`portal-bridge failures list --rejected\`
duplicate   a retransmission of a message already stored (same MSH-10 on the channel): answered with the stored ACK
waiting     stored, not yet ingested by the daemon

Read from the database, so it shows the same whether the daemon runs or not.

Examples:
  $ portal-bridge status
  $ portal-bridge status --json --config config/production.yaml

Exit status: 0 shown, 1 database unreachable, 2 configuration problem or database not migrated.`,
    )
    .action(async (opts: StatusOptions) => done(await statusCommand(opts, io)));
}
