/** Feeding synthetic families into a store and checking, from the ledger and the portal, that they converged. */
import { parseHl7 } from '../../../src/core/hl7/message';
import { createRestPortalClient } from '../../../src/portal/rest';
import { sandboxControl } from '../../../src/portal/sandbox';
import type { Store, StoreOptions } from '../../../src/store';
import { familyMessages, type FamilyOptions } from '../../helpers/families';

/** Stores the families' messages in the inbox as a connector would (source `e2e`, dedupe by MSH-10). */
export async function feedFamilies(store: Store, options: FamilyOptions): Promise<number> {
  const messages = familyMessages(options);
  await store.inbox.acceptInbox(messages.map((raw) => ({ source: 'e2e', dedupeKey: parseHl7(raw).controlId, format: 'hl7v2' as const, raw })));
  return messages.length;
}

/** Inbox rows still `received` and rows processed (any other status). */
export async function inboxProgress(store: Store): Promise<{ received: number; processed: number }> {
  const rows = (await store.knex('inbox').select('status').count({ n: '*' }).groupBy('status')) as { status: string; n: unknown }[];
  const received = Number(rows.find((r) => r.status === 'received')?.n ?? 0);
  const all = rows.reduce((sum, r) => sum + Number(r.n), 0);
  return { received, processed: all - received };
}

/** Welcomes the ledger records as sent. */
export async function welcomesSent(store: Store): Promise<number> {
  const [row] = (await store.knex('invitations').where({ status: 'sent' }).count({ n: '*' })) as { n: unknown }[];
  return Number(row?.n ?? 0);
}

/**
 * The queue is idle: nothing received in the inbox, then no job queued or running. In that order: ingest enqueues
 * a row's jobs in the transaction that marks it processed, so jobs read after an empty inbox include them (jobs
 * read first could miss the ones the last ingest batch created meanwhile).
 */
export async function queueIdle(store: Store): Promise<boolean> {
  if ((await inboxProgress(store)).received > 0) return false;
  const counts = await store.jobs.counts();
  return counts.queued + counts.running === 0;
}

/**
 * Everything converged for `guardians` × `childrenPer` families (`inputs` inbox rows, by default one per child):
 * every inbox row accepted, no failed job, and —
 * asked of the portal itself — one account per guardian (found by externalId and by email, the same one) with
 * every child linked, and exactly one welcome per account in the sandbox's outbox.
 */
export async function expectConverged(store: Store, sandboxUrl: string, families: { guardians: number; childrenPer: number; inputs?: number }): Promise<void> {
  const inputs = families.inputs ?? families.guardians * families.childrenPer;
  expect(await inboxProgress(store)).toEqual({ received: 0, processed: inputs });
  expect(Number(((await store.knex('inbox').whereNot({ status: 'accepted' }).count({ n: '*' })) as { n: unknown }[])[0]?.n)).toBe(0);
  expect(await store.jobs.listFailed({ limit: 10 })).toEqual([]);
  expect(await store.ledger.listAccounts({ limit: families.guardians + 10 })).toHaveLength(families.guardians);

  const portal = createRestPortalClient({ baseUrl: sandboxUrl });
  const wrong: string[] = [];
  for (let g = 1; g <= families.guardians; g++) {
    const account = await portal.findAccount({ externalId: `c:G${g}` });
    const byEmail = await portal.findAccount({ email: `guardian${g}@example.org` });
    const children = (account?.links ?? []).map((l) => l.patientId).sort();
    const want = Array.from({ length: families.childrenPer }, (_, c) => `P${g}-${c + 1}`).sort();
    if (account === undefined || byEmail?.id !== account.id || JSON.stringify(children) !== JSON.stringify(want)) wrong.push(`G${g}: ${account === undefined ? 'no account' : children.join(',')}`);
  }
  expect(wrong).toEqual([]);

  const outbox = await sandboxControl(sandboxUrl).outbox();
  const perAccount = new Map<string, number>();
  for (const item of outbox) perAccount.set(item.externalId, (perAccount.get(item.externalId) ?? 0) + 1);
  expect(perAccount.size).toBe(families.guardians);
  expect([...perAccount.values()].filter((n) => n !== 1)).toEqual([]);
}

/**
 * How the daemon child reaches this test file's database: the SQLite file, or the PostgreSQL URL with the
 * file's schema as search_path (the daemon's config has no schema setting; libpq `options` carries it).
 */
export function daemonDatabase(options: StoreOptions): { file: string } | { url: string } {
  if (options.file !== undefined) return { file: options.file };
  if (options.url === undefined) throw new Error('no database in the test options');
  const url = new URL(options.url);
  if (options.schema !== undefined) url.searchParams.set('options', `-c search_path=${options.schema}`);
  return { url: url.toString() };
}
