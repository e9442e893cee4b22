/**
 * How the support commands show people (DESIGN §1, §6: "reason in words, masked data"). By default emails are
 * masked (maskEmail), names become initials, phones keep their last two digits, patient ids (MRNs) and guardian
 * keys (which embed an email and a name) become keyed refs or masked forms. `unmask` (staff who need it) shows
 * values as stored. Pure.
 */
import { maskEmail } from '../core/identity';
import type { PersonName } from '../core/model';
import type { Refs } from '../refs';

/** Renders people and their identifiers for staff; one instance per command run. */
export interface Masker {
  readonly unmasked: boolean;
  /** Always the keyed ref (`g_…`): stable, safe to paste into a ticket. */
  guardianRef(key: string): string;
  /** The guardian key, masked (`e:a***@example.org/A.T.`) unless unmasked. */
  guardianKey(key: string): string;
  /** A patient id (an MRN): its ref unless unmasked. */
  patient(patientId: string): string;
  email(email: string | undefined): string;
  /** Initials (`A. T.`) unless unmasked. */
  name(name: PersonName | undefined): string;
  phone(phone: string | undefined): string;
  /** A welcome trigger: `email:<email-key>` has its email masked. */
  trigger(trigger: string): string;
  /** Free text (an error message, an audit detail): any email or phone number in it is masked. */
  text(text: string): string;
}

export function createMasker(refs: Refs, options: { unmask?: boolean } = {}): Masker {
  const unmasked = options.unmask === true;
  const keep = (s: string): string => s;
  return {
    unmasked,
    guardianRef: (key) => refs.guardian(key),
    guardianKey: unmasked ? keep : maskGuardianKey,
    patient: unmasked ? keep : (id) => refs.patient(id),
    email: (email) => (unmasked ? (email ?? '-') : email === undefined ? '-' : maskEmail(email)),
    name: (name) => (name === undefined ? '-' : unmasked ? `${name.given} ${name.family}`.trim() : initials(`${name.given} ${name.family}`)),
    phone: (phone) => (phone === undefined ? '-' : unmasked ? phone : maskPhone(phone)),
    trigger: unmasked ? keep : maskTrigger,
    text: unmasked ? keep : maskText,
  };
}

/**
 * A guardian key with its personal parts masked: a contact id keeps its first character (`c:C501` becomes `c:C`
 * and three stars), so does a patient id; an email-key is masked like maskEmail, a name-key becomes initials
 * (`A.T.`), a birth date is starred out. See masking.test.ts for examples.
 */
export function maskGuardianKey(key: string): string {
  const body = key.slice(2);
  if (key.startsWith('c:')) return `c:${maskId(body)}`;
  if (key.startsWith('e:')) {
    // The email ends at the first '/' after its '@' (as in reconcile/seed.ts).
    const end = body.indexOf('/', Math.max(0, body.lastIndexOf('@')));
    const email = end === -1 ? body : body.slice(0, end);
    const [nameKey = '', birthDate] = end === -1 ? [] : body.slice(end + 1).split('/');
    return `e:${maskEmail(email)}/${compactInitials(nameKey)}${birthDate === undefined ? '' : '/****-**-**'}`;
  }
  if (key.startsWith('p:')) {
    const slash = body.indexOf('/');
    return slash === -1 ? `p:${maskId(body)}` : `p:${maskId(body.slice(0, slash))}/${compactInitials(body.slice(slash + 1))}`;
  }
  return maskId(key);
}

/** `Ada Testperson` → `A. T.`; empty → `-`. */
export function initials(fullName: string): string {
  const letters = words(fullName).map((w) => `${w}.`);
  return letters.length === 0 ? '-' : letters.join(' ');
}

/** `+12025550101` → `***01`. */
export function maskPhone(phone: string): string {
  const digits = phone.replace(/\D/gu, '');
  return digits.length < 4 ? '***' : `***${digits.slice(-2)}`;
}

/** `email:<email-key>` → `email:a***@example.org`; other triggers (`created`, `resend:<id>`, `authority:<inbox id>`) as they are. */
export function maskTrigger(trigger: string): string {
  return trigger.startsWith('email:') ? `email:${maskEmail(trigger.slice('email:'.length))}` : trigger;
}

// Address-like tokens; phone numbers in E.164 (`+12025550101`) or North American forms (`202-555-0101`,
// `(202) 555-0101`). Dates and times do not match either.
const EMAIL_IN_TEXT = /[^\s@<>()[\]"',;:]+@[^\s@<>()[\]"',;:]+\.[^\s@<>()[\]"',;:]*[^\s@<>()[\]"',;:.]/gu;
const PHONE_IN_TEXT = /\+\d{8,15}\b|\(\d{3}\)\s?\d{3}-\d{4}\b|\b\d{3}[-.]\d{3}[-.]\d{4}\b/gu;

/** Masks every email and phone number found in `text` (a safety net: messages are meant to hold none). */
export function maskText(text: string): string {
  return text.replace(EMAIL_IN_TEXT, (email) => maskEmail(email)).replace(PHONE_IN_TEXT, (phone) => maskPhone(phone));
}

function maskId(id: string): string {
  return id === '' ? '***' : `${[...id][0] ?? ''}***`;
}

function compactInitials(nameKey: string): string {
  const letters = words(nameKey);
  return letters.length === 0 ? '-' : letters.map((w) => `${w}.`).join('');
}

/** The upper-cased first letter of each word (words split at spaces and hyphens: `O'Brien-Smith` → O, S). */
function words(text: string): string[] {
  return text
    .split(/[\s\p{Pd}]+/u)
    .map((w) => /[\p{L}\p{N}]/u.exec(w)?.[0]?.toLocaleUpperCase('en') ?? '')
    .filter((w) => w !== '');
}
