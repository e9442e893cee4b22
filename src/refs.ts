/**
 * Refs: the keyed hashes that stand for people in logs and metrics (STYLE rule 8). A ref is stable for an
 * installation (same key, same value → same ref), differs per kind, and cannot be reversed or recomputed without
 * the key (config `log.refKey`, from PORTAL_BRIDGE_LOG_REF_KEY).
 */
import { createHmac } from 'node:crypto';
import { emailKey } from './core/identity';

export const REF_KINDS = ['guardian', 'patient', 'contact', 'email'] as const;
export type RefKind = (typeof REF_KINDS)[number];

const PREFIX: Readonly<Record<RefKind, string>> = { guardian: 'g_', patient: 'p_', contact: 'c_', email: 'e_' };

/**
 * `g_` / `p_` / `c_` / `e_` + the first 16 hex digits (64 bits) of HMAC-SHA256(key, `kind:value`). Emails are
 * taken by their email-key (trimmed, lower-cased), so one mailbox has one ref however it was typed.
 * Throws on an empty key: an unkeyed hash of an email or an MRN is easy to reverse by guessing.
 */
export function refFor(kind: RefKind, value: string, key: string): string {
  if (key === '') throw new Error('refFor needs a non-empty key (config log.refKey)');
  const normalised = kind === 'email' ? (emailKey(value) ?? '') : value;
  return PREFIX[kind] + createHmac('sha256', key).update(`${kind}:${normalised}`, 'utf8').digest('hex').slice(0, 16);
}

/** Ref functions bound to one key. */
export interface Refs {
  /** Of a guardianKey (which embeds email and name keys, so never log it as is). */
  guardian(guardianKey: string): string;
  /** Of a patientId (an MRN). */
  patient(patientId: string): string;
  contact(contactId: string): string;
  email(email: string): string;
}

export function createRefs(key: string): Refs {
  if (key === '') throw new Error('createRefs needs a non-empty key (config log.refKey)');
  return {
    guardian: (v) => refFor('guardian', v, key),
    patient: (v) => refFor('patient', v, key),
    contact: (v) => refFor('contact', v, key),
    email: (v) => refFor('email', v, key),
  };
}
