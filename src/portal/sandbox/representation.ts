/** How the sandbox shows an account (GET /v1/accounts/{id} and friends) and its ETag. */
import type { AccountRow, LinkRow } from './store/accounts';

/** The ETag of an account version: a strong tag, `"<version>"`. */
export function etagOf(row: AccountRow): string {
  return `"${row.version}"`;
}

/** True when an If-Match header value matches the account (`*`, or a listed tag; weak tags compared weakly). */
export function ifMatchAccepts(header: string, row: AccountRow): boolean {
  const wanted = String(row.version);
  return header.split(',').some((raw) => {
    const tag = raw.trim();
    return tag === '*' || tag.replace(/^W\//, '').replace(/^"(.*)"$/, '$1') === wanted;
  });
}

/** The account's JSON body. `version` is the ETag's value (without quotes). */
export function accountJson(row: AccountRow, links: readonly LinkRow[]): Record<string, unknown> {
  return {
    id: row.id,
    externalId: row.external_id,
    email: row.email,
    givenName: row.given_name,
    familyName: row.family_name,
    ...(row.cell_phone === null ? {} : { cellPhone: row.cell_phone }),
    status: row.status,
    createdBy: row.created_by,
    version: String(row.version),
    links: links.map((l) => ({ patientId: l.patient_id, accessLevel: l.access_level, status: l.status })),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
