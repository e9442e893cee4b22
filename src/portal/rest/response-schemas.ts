/** Minimal checks of the portal's answers (tolerant: extra fields are ignored, missing ones are errors). */
import { z } from 'zod';
import { PORTAL_ACCOUNT_STATUSES } from '../port';

const LinkSchema = z.object({
  patientId: z.string().min(1),
  accessLevel: z.enum(['full', 'limited']),
  status: z.enum(['active', 'pending']),
});

/** An account (GET /v1/accounts/{id}, and the answers of create and update). */
export const AccountSchema = z.object({
  id: z.string().min(1),
  externalId: z.string(),
  email: z.string(),
  status: z.enum(PORTAL_ACCOUNT_STATUSES),
  createdBy: z.enum(['bridge', 'staff']),
  version: z.union([z.string().min(1), z.number().int().transform(String)]),
  links: z.array(LinkSchema),
});

/** `GET /v1/accounts?…`: zero or one account. */
export const AccountListSchema = z.array(AccountSchema).max(1);

/** `POST /v1/invitations` → 202. */
export const InvitationAnswerSchema = z.object({ invitationId: z.string().min(1) });

/** `GET /v1/changes`. */
export const ChangesSchema = z.object({
  items: z.array(z.object({ accountId: z.string().min(1), externalId: z.string(), status: z.enum(PORTAL_ACCOUNT_STATUSES), at: z.string().min(1) })),
  nextCursor: z.string().min(1),
});
