/** Request bodies the sandbox accepts (zod, strict: an unknown field is a 422 — it catches client drift). */
import { z } from 'zod';
import { isValidEmail } from '../../core/identity';
import { INVITATION_CHANNELS, INVITATION_METHODS } from '../port';
import { ProblemError } from './problem';

const text = z.string().trim().min(1).max(200);
const email = z.string().trim().max(254).refine(isValidEmail, 'not an email address');
const cellPhone = z.string().trim().regex(/^\+?[0-9 ()-]{4,20}$/, 'not a phone number');
const id = z.string().min(1).max(200);

/** `POST /v1/accounts`. */
export const NewAccountBody = z.strictObject({ externalId: id, email, givenName: text, familyName: text, cellPhone: cellPhone.optional() });

/** `PATCH /v1/accounts/{id}`: at least one field. */
export const AccountPatchBody = z
  .strictObject({ email: email.optional(), givenName: text.optional(), familyName: text.optional(), cellPhone: cellPhone.optional(), enable: z.literal(true).optional() })
  .refine((p) => Object.values(p).some((v) => v !== undefined), 'name at least one field to change');

/** `PUT /v1/accounts/{id}/links/{patientId}`. */
export const LinkBody = z.strictObject({
  accessLevel: z.enum(['full', 'limited']),
  patient: z.strictObject({ givenName: text, familyName: text, birthDate: z.iso.date().optional() }),
});

/** `POST /v1/invitations`. */
export const InvitationBody = z.strictObject({
  accountId: id,
  channel: z.enum(INVITATION_CHANNELS),
  method: z.enum(INVITATION_METHODS),
  trigger: z.string().min(1).max(200),
});

/** `POST /v1/_login`: by account id or by email. */
export const LoginBody = z.union([z.strictObject({ accountId: id }), z.strictObject({ email })]);

/** `POST /v1/_staff-accounts`. */
export const StaffAccountBody = NewAccountBody.extend({ status: z.enum(['invited', 'active']).optional() });

/** `POST /v1/_retention`. */
export const RetentionBody = z.strictObject({ changes: z.number().int().min(0) });

/** Parses a body or throws a 422 problem naming the fields (never their values: they may be patient data). */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const where = result.error.issues.map((i) => `${i.path.length === 0 ? '(body)' : i.path.join('.')}: ${i.message}`).join('; ');
  throw new ProblemError(422, 'invalid_body', `The body is invalid: ${where}.`);
}
