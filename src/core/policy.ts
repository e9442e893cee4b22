import type { Authority } from './model';

export const ADOLESCENT_POLICIES = ['link-limited', 'hold', 'unlink'] as const;
export type AdolescentPolicy = (typeof ADOLESCENT_POLICIES)[number];

export const RESEND_TRIGGERS = ['authority-change'] as const;
export type ResendTrigger = (typeof RESEND_TRIGGERS)[number];

export const CONTACT_UPDATE_MODES = ['replace-when-present', 'merge'] as const;
export type ContactUpdateMode = (typeof CONTACT_UPDATE_MODES)[number];

/**
 * The practice's access policy: the `policy` block of a mapping file (DESIGN §4, §8).
 * Every field has a default (DEFAULT_POLICY); the mapping schema fills them in.
 */
export interface Policy {
  /** Authorities that grant access (R04). Default: joint, exclusive. */
  readonly eligibleAuthorities: readonly Authority[];
  /** Passwordless login: every guardian needs a valid cell phone (R11). */
  readonly passwordless: boolean;
  /** Age (whole years, practice time zone) at which a patient manages their own record (R14). */
  readonly minorAgeLimit: number;
  /** Adolescent privacy (R15): off by default. */
  readonly adolescent: { readonly enabled: boolean; readonly fromAge: number; readonly policy: AdolescentPolicy };
  /** Extra welcome triggers beyond account creation (DESIGN §5). */
  readonly resendOn: readonly ResendTrigger[];
  /** IANA zone of the practice; ages and "today" are computed in it. */
  readonly timeZone: string;
  /** How a message's contact list updates the stored one (DESIGN §8). */
  readonly contactsUpdate: ContactUpdateMode;
  /** Region for phone numbers written without a country code (ISO 3166 alpha-2). */
  readonly defaultRegion: string;
}

export const DEFAULT_POLICY: Policy = Object.freeze<Policy>({
  eligibleAuthorities: ['joint', 'exclusive'],
  passwordless: false,
  minorAgeLimit: 18,
  adolescent: { enabled: false, fromAge: 12, policy: 'link-limited' },
  resendOn: ['authority-change'],
  timeZone: 'America/New_York',
  contactsUpdate: 'replace-when-present',
  defaultRegion: 'US',
});
