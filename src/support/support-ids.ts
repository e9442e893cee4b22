/**
 * Ids of the support queue as staff type them: `job:<n>` (or just `<n>`) for a failed job, `inbox:<n>` for a
 * rejected inbox row. Pure.
 */

export type SupportId = { readonly kind: 'job'; readonly id: number } | { readonly kind: 'inbox'; readonly id: number };

/** Parses one id; undefined when it is not one of the forms above. */
export function parseSupportId(text: string): SupportId | undefined {
  const match = /^(?:(job|inbox):)?(\d{1,15})$/u.exec(text.trim());
  if (match === null) return undefined;
  const id = Number(match[2]);
  if (!Number.isSafeInteger(id) || id <= 0) return undefined;
  return { kind: match[1] === 'inbox' ? 'inbox' : 'job', id };
}

/** `job:3`, `inbox:7`: the form the commands print and accept. */
export function formatSupportId(id: SupportId): string {
  return `${id.kind}:${id.id}`;
}
