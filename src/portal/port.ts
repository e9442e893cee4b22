/**
 * The portal port (DESIGN §7): the one interface every portal adapter (REST, SCIM, the sandbox through REST)
 * implements. The reconciler talks only to this.
 *
 * Contract for every adapter:
 * - Every mutating call takes an idempotency key (src/core/idempotency.ts). Calling again with the same key and
 *   the same input is safe: the portal answers with the first result. Adapters never retry by themselves — the
 *   job's retry policy does, with the same key.
 * - Failures are BridgeErrors with ERR_PORTAL_* codes (src/errors.ts), classed transient / ambiguous / permanent;
 *   `retryAfterMs` is set when the portal sent Retry-After.
 * - Times are RFC 3339 UTC strings.
 */

export const PORTAL_ACCOUNT_STATUSES = ['invited', 'active', 'disabled'] as const;
export type PortalAccountStatus = (typeof PORTAL_ACCOUNT_STATUSES)[number];

export type AccessLevel = 'full' | 'limited';

export interface PortalLink {
  readonly patientId: string;
  readonly accessLevel: AccessLevel;
  readonly status: 'active' | 'pending';
}

/** An account as the portal reports it. `version` is the ETag value to send as If-Match. */
export interface PortalAccount {
  readonly id: string;
  /** Our guardianKey. */
  readonly externalId: string;
  readonly email: string;
  readonly status: PortalAccountStatus;
  /** `staff` for accounts created at the desk (temporary password; no welcome). */
  readonly createdBy: 'bridge' | 'staff';
  readonly version: string;
  readonly links: readonly PortalLink[];
}

export interface NewAccount {
  readonly externalId: string;
  readonly email: string;
  readonly givenName: string;
  readonly familyName: string;
  readonly cellPhone?: string;
}

export interface AccountPatch {
  readonly email?: string;
  readonly givenName?: string;
  readonly familyName?: string;
  readonly cellPhone?: string;
  /** Re-enable a disabled account. */
  readonly enable?: true;
}

/** What the portal asks about a dependent: it checks the birth date at first login. */
export interface DependentLink {
  readonly accessLevel: AccessLevel;
  readonly patient: { readonly givenName: string; readonly familyName: string; readonly birthDate?: string };
}

export const INVITATION_CHANNELS = ['email', 'sms', 'print', 'none'] as const;
export const INVITATION_METHODS = ['link', 'pin', 'question'] as const;

export interface Invitation {
  readonly accountId: string;
  readonly channel: (typeof INVITATION_CHANNELS)[number];
  readonly method: (typeof INVITATION_METHODS)[number];
  /** Why this welcome is sent (`created`, `resend:<id>`, `email:<email-key>`, `authority:<inbox id>`). */
  readonly trigger: string;
}

/** One change on the portal side (e.g. first login → active). */
export interface PortalChange {
  readonly accountId: string;
  readonly externalId: string;
  readonly status: PortalAccountStatus;
  readonly at: string;
}

export interface PortalClient {
  /** Reads one account by our externalId or by login email; undefined when none. Read-only, safe to repeat. */
  findAccount(query: { readonly externalId: string } | { readonly email: string }): Promise<PortalAccount | undefined>;
  /** Reads one account by the portal's id; undefined when it does not exist. */
  getAccount(accountId: string): Promise<PortalAccount | undefined>;
  /** Creates an account. ERR_PORTAL_EMAIL_IN_USE when another account has the email. Idempotent by key. */
  createAccount(account: NewAccount, idempotencyKey: string): Promise<PortalAccount>;
  /** Updates an account if it is still at `ifMatch` (its version); ERR_PORTAL_PRECONDITION_FAILED otherwise. */
  updateAccount(accountId: string, patch: AccountPatch, ifMatch: string, idempotencyKey: string): Promise<PortalAccount>;
  /** Links (or re-levels) a dependent. Idempotent: linking what is linked succeeds. */
  linkDependent(accountId: string, patientId: string, link: DependentLink, idempotencyKey: string): Promise<void>;
  /** Unlinks a dependent; succeeds when it was not linked. */
  unlinkDependent(accountId: string, patientId: string, idempotencyKey: string): Promise<void>;
  /** Disables an account (never deletes). Idempotent. */
  disableAccount(accountId: string, idempotencyKey: string): Promise<void>;
  /** Sends a welcome. With the same key the portal sends it once, whatever the number of calls. */
  sendInvitation(invitation: Invitation, idempotencyKey: string): Promise<{ readonly invitationId: string }>;
  /** Changes since `cursor` (all when undefined). ERR_PORTAL_CURSOR_EXPIRED asks for a full resync. */
  listChanges(cursor?: string): Promise<{ readonly items: readonly PortalChange[]; readonly nextCursor: string }>;
}
