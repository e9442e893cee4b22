/** Dependent links: PUT (create or re-level) and DELETE (also when absent) — idempotent by nature, keys ignored. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { SandboxContext } from '../context';
import { faultableRoute } from '../pipeline';
import { ProblemError, type Answer } from '../problem';
import { LinkBody, parseBody } from '../schemas';
import type { LinkRow } from '../store/accounts';
import { loadAccount } from './accounts';

function params(req: FastifyRequest): { id: string; patientId: string } {
  return req.params as { id: string; patientId: string };
}

function putLink(ctx: SandboxContext, req: FastifyRequest): Answer {
  const { id, patientId } = params(req);
  const account = loadAccount(ctx, id);
  if (account.status === 'disabled') throw new ProblemError(403, 'account_disabled', 'A disabled account cannot get dependents.');
  const body = parseBody(LinkBody, req.body);
  const existing = ctx.accounts.link(id, patientId);
  const at = ctx.now().toISOString();
  const row: LinkRow = {
    account_id: id,
    patient_id: patientId,
    access_level: body.accessLevel,
    status: existing?.status ?? 'pending',
    given_name: body.patient.givenName,
    family_name: body.patient.familyName,
    birth_date: body.patient.birthDate ?? null,
    created_at: existing?.created_at ?? at,
    updated_at: at,
  };
  ctx.accounts.upsertLink(row);
  return { status: existing === undefined ? 201 : 200, body: { patientId, accessLevel: row.access_level, status: row.status } };
}

function deleteLink(ctx: SandboxContext, req: FastifyRequest): Answer {
  const { id, patientId } = params(req);
  loadAccount(ctx, id);
  ctx.accounts.deleteLink(id, patientId);
  return { status: 204 };
}

/** Registers the link routes. */
export function linkRoutes(app: FastifyInstance, ctx: SandboxContext): void {
  app.put('/v1/accounts/:id/links/:patientId', faultableRoute(ctx, 'ignored', (req) => putLink(ctx, req)));
  app.delete('/v1/accounts/:id/links/:patientId', faultableRoute(ctx, 'ignored', (req) => deleteLink(ctx, req)));
}
