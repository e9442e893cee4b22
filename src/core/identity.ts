/**
 * Who is who (DESIGN §3): email-keys, name-keys, and the grouping of contact rows into guardians.
 * Pure; the result never depends on the order of the input.
 */
import type { Contact, PersonName } from './model';

/**
 * The email-key: trimmed and fully lower-cased, nothing else (no dot or +tag stripping: those are different
 * mailboxes at many providers). Undefined or blank → undefined.
 */
export function emailKey(email: string | undefined): string | undefined {
  if (email === undefined) return undefined;
  const key = email.trim().toLowerCase();
  return key === '' ? undefined : key;
}

/**
 * The name-key of given + family: NFKC, lower-cased, punctuation (Unicode \p{P}) removed, runs of white space
 * collapsed to one space, trimmed. "Mary", "O'Brien-Smith" → "mary obriensmith". Both parts empty → ''.
 */
export function nameKey(name: PersonName): string {
  return `${name.given} ${name.family}`
    .normalize('NFKC')
    .toLowerCase()
    .replace(/\p{P}/gu, '')
    .replace(/\s+/gu, ' ')
    .trim();
}

/**
 * Pragmatic email check for R10: exactly one `@`, a non-empty local part, a domain with a dot between
 * non-empty labels, and no white space anywhere. Not RFC 5322; the portal has the last word.
 */
export function isValidEmail(s: string): boolean {
  const email = s.trim();
  if (/\s/u.test(email)) return false;
  const parts = email.split('@');
  if (parts.length !== 2) return false;
  const [local, domain] = parts as [string, string];
  if (local === '' || domain === '') return false;
  const labels = domain.split('.');
  return labels.length >= 2 && labels.every((label) => label !== '');
}

/** An email fit for a staff-facing reason: first character of the local part, `***`, then the domain. */
export function maskEmail(email: string | undefined): string {
  if (email === undefined) return '***';
  const trimmed = email.trim();
  const at = trimmed.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${trimmed.slice(0, 1)}***${trimmed.slice(at)}`;
}

/** One real person across charts: the contact rows that identify them (DESIGN §3). */
export interface GuardianGroup {
  /** `c:<smallest contactId>`, else `e:<email-key>/<name-key>`, else `p:<patientId>/<name-key>`. */
  readonly guardianKey: string;
  /** The rows, in canonical order (see compareContacts). */
  readonly rows: readonly Contact[];
  /** The email of the most recently updated row that has one (as entered, trimmed). */
  readonly email?: string;
  readonly emailKey?: string;
  /** The name-key of the most recently updated row. */
  readonly nameKey: string;
  /** The name of the most recently updated row. */
  readonly name: PersonName;
  /** The cell phone of the most recently updated row that has one. */
  readonly cellPhone?: string;
  /** True when the rows carry two or more different contactIds (R13: looks like a duplicate contact). */
  readonly duplicateContactIds: boolean;
}

/**
 * Groups contact rows into guardians. Rows sharing a contactId are one guardian; rows sharing both email-key and
 * name-key are one guardian too (even with different contactIds, see R13) unless both rows carry a birth date and
 * the dates differ. Rows with neither contactId nor email are one guardian per (patient, name-key): nothing
 * identifies them across charts. Connected rows are merged transitively (union-find).
 *
 * "Most recently updated" = greatest sourceVersion (instants compared when both parse, else text); ties go to the
 * row later in canonical order, so the result never depends on the input order. Groups sorted by guardianKey.
 * When two groups without contactIds would get the same `e:` key (same email and name, different birth dates),
 * each key gets `/<birthDate>` appended so keys stay unique.
 */
export function groupGuardians(contacts: readonly Contact[]): GuardianGroup[] {
  const rows = [...contacts].sort(compareContacts);
  const parent = rows.map((_, i) => i);
  const find = (i: number): number => {
    let root = i;
    while (parent[root] !== root) root = parent[root] ?? root;
    parent[i] = root;
    return root;
  };
  const union = (a: number, b: number): void => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  };

  const byContactId = new Map<string, number>();
  const byPatientName = new Map<string, number>();
  const byEmailName = new Map<string, number[]>();
  rows.forEach((row, i) => {
    const ek = emailKey(row.email);
    const nk = nameKey(row.name);
    if (row.contactId !== undefined) unionInto(byContactId, row.contactId, i, union);
    if (ek !== undefined) {
      const bucketKey = JSON.stringify([ek, nk]);
      const bucket = byEmailName.get(bucketKey);
      if (bucket === undefined) byEmailName.set(bucketKey, [i]);
      else bucket.push(i);
    } else if (row.contactId === undefined) {
      unionInto(byPatientName, JSON.stringify([row.patientId, nk]), i, union);
    }
  });
  for (const bucket of byEmailName.values()) {
    for (const [n, i] of bucket.entries()) {
      for (const j of bucket.slice(n + 1)) {
        if (birthDatesCompatible(rows[i], rows[j])) union(i, j);
      }
    }
  }

  const components = new Map<number, Contact[]>();
  rows.forEach((row, i) => {
    const root = find(i);
    const component = components.get(root);
    if (component === undefined) components.set(root, [row]);
    else component.push(row);
  });
  const drafts = [...components.values()].map(draftGroup);
  const baseKeyCount = new Map<string, number>();
  for (const d of drafts) baseKeyCount.set(d.guardianKey, (baseKeyCount.get(d.guardianKey) ?? 0) + 1);
  return drafts
    .map((d) => ((baseKeyCount.get(d.guardianKey) ?? 0) > 1 && d.guardianKey.startsWith('e:')
      ? { ...d, guardianKey: `${d.guardianKey}/${smallestBirthDate(d.rows)}` }
      : d))
    .sort((a, b) => compareText(a.guardianKey, b.guardianKey));
}

function unionInto(index: Map<string, number>, key: string, i: number, union: (a: number, b: number) => void): void {
  const first = index.get(key);
  if (first === undefined) index.set(key, i);
  else union(first, i);
}

function birthDatesCompatible(a: Contact | undefined, b: Contact | undefined): boolean {
  if (a?.birthDate === undefined || b?.birthDate === undefined) return true;
  return a.birthDate === b.birthDate;
}

function smallestBirthDate(rows: readonly Contact[]): string {
  return rows.map((r) => r.birthDate ?? '').filter((d) => d !== '').sort(compareText)[0] ?? '';
}

/** rows: non-empty, in canonical order. */
function draftGroup(rows: readonly Contact[]): GuardianGroup {
  const latest = mostRecent(rows, () => true) ?? (rows[0] as Contact);
  const withEmail = mostRecent(rows, (r) => emailKey(r.email) !== undefined);
  const withPhone = mostRecent(rows, (r) => r.cellPhone !== undefined && r.cellPhone !== '');
  const contactIds = [...new Set(rows.flatMap((r) => (r.contactId === undefined ? [] : [r.contactId])))].sort(compareText);
  const nk = nameKey(latest.name);
  const email = withEmail?.email?.trim();
  const ek = emailKey(email);
  const smallestId = contactIds[0];
  const guardianKey = smallestId !== undefined ? `c:${smallestId}` : ek !== undefined ? `e:${ek}/${nk}` : `p:${latest.patientId}/${nk}`;
  return {
    guardianKey,
    rows,
    ...(email !== undefined && ek !== undefined ? { email, emailKey: ek } : {}),
    nameKey: nk,
    name: latest.name,
    ...(withPhone?.cellPhone !== undefined ? { cellPhone: withPhone.cellPhone } : {}),
    duplicateContactIds: contactIds.length > 1,
  };
}

/** The row with the greatest sourceVersion among those passing `keep`; ties → later in the (canonical) order. */
function mostRecent(rows: readonly Contact[], keep: (row: Contact) => boolean): Contact | undefined {
  let best: Contact | undefined;
  for (const row of rows) {
    if (keep(row) && (best === undefined || compareVersions(row.sourceVersion, best.sourceVersion) >= 0)) best = row;
  }
  return best;
}

/** Orders two sourceVersions: as instants when both parse, else as text. */
export function compareVersions(a: string, b: string): number {
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  if (Number.isFinite(ta) && Number.isFinite(tb) && ta !== tb) return ta - tb;
  return compareText(a, b);
}

/** Plain code-unit string order (locale-independent, so results are the same on every machine). */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A total order over contact rows by content (patient, contactId, email-key, name, …, flags). Rows equal under it
 * are interchangeable, which is what makes grouping and eligibility independent of the feed's order.
 */
export function compareContacts(a: Contact, b: Contact): number {
  return compareText(contentKey(a), contentKey(b));
}

// Memoised per row object: sorting calls the comparator O(n log n) times and NFKC is not free. Rows are immutable.
const contentKeys = new WeakMap<Contact, string>();

function contentKey(c: Contact): string {
  const cached = contentKeys.get(c);
  if (cached !== undefined) return cached;
  const flags = [c.flags.noAccess, c.flags.declined, c.flags.staffCreated, c.flags.limitedAccess].map((f) => (f ? '1' : '0')).join('');
  // JSON of the field list: injective, so equal keys mean equal content.
  const key = JSON.stringify([
    c.patientId, c.contactId ?? '', emailKey(c.email) ?? '', c.email ?? '', nameKey(c.name), c.name.given, c.name.family,
    c.relationship, c.relationshipCode ?? '', c.authority, c.birthDate ?? '', c.cellPhone ?? '', c.sourceVersion, flags,
  ]);
  contentKeys.set(c, key);
  return key;
}
