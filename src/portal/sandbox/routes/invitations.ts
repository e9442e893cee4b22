/** Invitations (welcomes): each accepted, non-replayed invitation is one outbox row. */
import type { FastifyInstance } from 'fastify';
import type { SandboxContext } from '../context';
import { faultableRoute } from '../pipeline';
import { ProblemError } from '../problem';
import { InvitationBody, parseBody } from '../schemas';
import { loadAccount } from './accounts';

/** Registers `POST /v1/invitations` (Idempotency-Key required) → 202 {invitationId}. */
export function invitationRoutes(app: FastifyInstance, ctx: SandboxContext): void {
  app.post(
    '/v1/invitations',
    faultableRoute(ctx, 'required', (req) => {
      const body = parseBody(InvitationBody, req.body);
      const account = loadAccount(ctx, body.accountId);
      if (account.status === 'disabled') throw new ProblemError(409, 'account_disabled', 'A disabled account cannot be invited.');
      const invitationId = ctx.newId('inv');
      ctx.outbox.add({
        invitationId, accountId: account.id, externalId: account.external_id, email: account.email,
        trigger: body.trigger, channel: body.channel, method: body.method, at: ctx.now().toISOString(),
      });
      return { status: 202, body: { invitationId } };
    }),
  );
}
