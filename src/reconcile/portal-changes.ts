import { isBridgeError } from '../errors';
import type { Logger } from '../log';
import type { PortalClient } from '../portal/port';
import type { Store } from '../store';

const CURSOR = 'portal-changes';
/** Pages read per poll, so one poll stays short. */
const MAX_PAGES = 20;

/**
 * Reads the portal's changes feed (e.g. first login → `active`) into the ledger and queues the guardians whose
 * account changed: their plan may change (an email change on an active account is held, R19). The cursor is
 * stored after each page; a cursor the portal no longer knows (410) restarts from the beginning (full resync).
 * Returns the number of changes applied.
 */
export async function pollPortalChanges(deps: { store: Store; portal: PortalClient; now: () => Date; log: Logger }): Promise<number> {
  const { store, portal, log } = deps;
  let applied = 0;
  let cursor = await store.cursors.getCursor(CURSOR);
  for (let page = 0; page < MAX_PAGES; page++) {
    let answer;
    try {
      answer = await portal.listChanges(cursor);
    } catch (e) {
      if (!isBridgeError(e) || e.code !== 'ERR_PORTAL_CURSOR_EXPIRED' || cursor === undefined) throw e;
      log.warn('portal changes cursor expired: full resync');
      cursor = undefined;
      continue;
    }
    const now = deps.now();
    const keys: string[] = [];
    for (const change of answer.items) {
      const account = await store.ledger.getAccountByPortalId(change.accountId);
      if (account === undefined || account.status === change.status) continue;
      await store.ledger.setAccountStatus(account.guardianKey, change.status, { now });
      keys.push(account.guardianKey);
      applied++;
    }
    await store.transaction(async (tx) => {
      await tx.jobs.enqueue(keys, { now });
      await tx.cursors.setCursor(CURSOR, answer.nextCursor, { now });
    });
    if (answer.items.length === 0 || answer.nextCursor === cursor) break;
    cursor = answer.nextCursor;
  }
  if (applied > 0) log.info('portal changes applied', { changes: applied });
  return applied;
}
