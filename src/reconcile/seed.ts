import { emailKey } from '../core/identity';
import type { AccountRecord, LinkRecord } from '../store/ledger';
import type { NeighbourhoodSeed } from '../store/snapshots';

/**
 * Where to start loading a guardian's neighbourhood: the rows its key names (`c:<contactId>`,
 * `e:<email-key>/<name-key>`, `p:<patientId>/<name-key>`), plus what the ledger remembers of it (its email and
 * the patients it is linked to), so a guardian who vanished from every chart is still found and unlinked.
 */
export function seedFor(guardianKey: string, account: AccountRecord | undefined, links: readonly LinkRecord[]): NeighbourhoodSeed {
  const contactIds: string[] = [];
  const emailKeys: string[] = [];
  const patientIds = links.map((l) => l.patientId);
  const body = guardianKey.slice(2);
  if (guardianKey.startsWith('c:')) contactIds.push(body);
  // e:<email-key>/<name-key>[/<birth date>]: the email ends at the first '/' after its '@'.
  else if (guardianKey.startsWith('e:')) emailKeys.push(body.slice(0, body.indexOf('/', body.lastIndexOf('@'))));
  else if (guardianKey.startsWith('p:')) patientIds.push(body.slice(0, body.indexOf('/')));
  const accountEmail = emailKey(account?.email);
  if (accountEmail !== undefined) emailKeys.push(accountEmail);
  return { contactIds, emailKeys: emailKeys.filter((k) => k !== ''), patientIds };
}
