import type { DesiredAccount } from '../core/eligibility';
import { emailKey } from '../core/identity';
import type { ObservedAccount } from '../core/plan';
import { BridgeError } from '../errors';
import type { PortalAccount, PortalClient } from '../portal/port';
import type { Store } from '../store';
import type { AccountRecord } from '../store/ledger';

/** What reconcile knows of one guardian's account: the plan's view plus the portal's id and version. */
export interface Observation {
  readonly observed?: ObservedAccount;
  readonly portal?: PortalAccount;
}

/**
 * Observes one guardian's account (DESIGN §5): the ledger, refreshed from the portal, which is the truth for
 * status (first login), creator and links. When the ledger knows nothing, the portal is asked by externalId (a
 * crash after create, before the ledger write) and then by email (an account staff made at the desk, or one
 * made under the guardian's previous key); such an account is adopted into the ledger. An account found by email
 * that another live guardian owns is ERR_PORTAL_EMAIL_IN_USE.
 */
export async function observe(
  store: Store,
  portal: PortalClient,
  key: string,
  ledger: AccountRecord | undefined,
  desired: DesiredAccount | undefined,
  now: Date,
): Promise<Observation> {
  let account: PortalAccount | undefined;
  if (ledger?.portalId !== undefined) account = await portal.getAccount(ledger.portalId);
  account ??= await portal.findAccount({ externalId: key });
  if (account === undefined && desired !== undefined && desired.dependents.length > 0) {
    const byEmail = await portal.findAccount({ email: desired.email });
    if (byEmail !== undefined && byEmail.externalId !== key) {
      const owner = await store.ledger.getAccountByPortalId(byEmail.id);
      if (owner !== undefined && owner.guardianKey !== key) {
        throw new BridgeError('ERR_PORTAL_EMAIL_IN_USE', 'the email is the login of an account another guardian holds');
      }
    }
    account = byEmail;
  }
  // Not on the portal (never made, or deleted there by an admin): plan afresh. A welcome already sent for a trigger
  // is still recorded in the ledger's invitations, which keeps it from going twice.
  if (account === undefined) return {};

  const record: Omit<AccountRecord, 'updatedAt'> = {
    guardianKey: key,
    portalId: account.id,
    email: account.email,
    status: account.status,
    createdBy: account.createdBy,
    ...(ledger?.name !== undefined && { name: ledger.name }),
    ...(ledger?.cellPhone !== undefined && { cellPhone: ledger.cellPhone }),
    version: account.version,
  };
  if (ledger === undefined || ledger.portalId !== account.id || ledger.status !== account.status || ledger.version !== account.version || ledger.email !== account.email) {
    await store.ledger.upsertAccount(record, { now });
  }
  await syncLinks(store, key, account, now);
  return {
    portal: account,
    observed: {
      guardianKey: key,
      portalId: account.id,
      email: account.email,
      ...(record.name !== undefined && { name: record.name }),
      ...(record.cellPhone !== undefined && { cellPhone: record.cellPhone }),
      status: account.status,
      createdBy: account.createdBy,
      dependents: account.links.map((l) => ({ patientId: l.patientId, accessLevel: l.accessLevel })),
      welcomesSent: await welcomes(store, key),
    },
  };
}

/**
 * Brings the ledger's links in line with the portal's (the truth): a call whose answer was lost after the portal
 * committed it (drop-after-commit, a crash before the ledger write) is recorded now.
 */
async function syncLinks(store: Store, key: string, account: PortalAccount, now: Date): Promise<void> {
  const ledgerLinks = new Map((await store.ledger.listLinks(key)).map((l) => [l.patientId, l] as const));
  const portalLinks = new Map(account.links.map((l) => [l.patientId, l] as const));
  for (const [patientId, link] of portalLinks) {
    const known = ledgerLinks.get(patientId);
    if (known?.status !== 'linked' || known.accessLevel !== link.accessLevel) {
      await store.ledger.upsertLink({ guardianKey: key, patientId, accessLevel: link.accessLevel, status: 'linked' }, { now });
    }
  }
  for (const [patientId, link] of ledgerLinks) {
    if (link.status === 'linked' && !portalLinks.has(patientId)) {
      await store.ledger.upsertLink({ guardianKey: key, patientId, accessLevel: link.accessLevel, status: 'unlinked' }, { now });
    }
  }
}

async function welcomes(store: Store, key: string): Promise<string[]> {
  return (await store.ledger.listInvitations(key)).filter((i) => i.status === 'sent').map((i) => i.trigger);
}

/** True when a desired account and a ledger account name the same login (email-key). */
export function sameLogin(a: { email: string }, b: { email: string }): boolean {
  const ka = emailKey(a.email);
  return ka !== undefined && ka === emailKey(b.email);
}
