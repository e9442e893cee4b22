/**
 * Test hooks (never faulted): the outbox of welcomes sent, first login, fault injection, changes retention,
 * and staff-created accounts (temporary password, `createdBy: staff`).
 */
import type { FastifyInstance } from 'fastify';
import { emailKey } from '../../../core/identity';
import type { SandboxContext } from '../context';
import { FaultsSchema } from '../faults';
import { hookRoute } from '../pipeline';
import { ProblemError } from '../problem';
import { LoginBody, parseBody, RetentionBody, StaffAccountBody } from '../schemas';
import { accountAnswer, insertAccount, loadAccount, saveAccount } from './accounts';

/** Registers the `/v1/_…` routes. */
export function testHookRoutes(app: FastifyInstance, ctx: SandboxContext): void {
  app.get(
    '/v1/_outbox',
    hookRoute(ctx, (req) => {
      const accountId = (req.query as Record<string, unknown>).accountId;
      return { status: 200, body: { items: ctx.outbox.list(typeof accountId === 'string' ? accountId : undefined) } };
    }),
  );
  app.post(
    '/v1/_login',
    hookRoute(ctx, (req) => {
      const body = parseBody(LoginBody, req.body);
      const found = 'accountId' in body ? ctx.accounts.byId(body.accountId) : ctx.accounts.byEmailKey(emailKey(body.email) ?? '');
      const row = loadAccount(ctx, found?.id ?? '');
      if (row.status === 'disabled') throw new ProblemError(403, 'account_disabled', 'A disabled account cannot log in.');
      ctx.accounts.activateLinks(row.id, ctx.now().toISOString());
      if (row.status === 'active') return accountAnswer(ctx, row);
      return accountAnswer(ctx, saveAccount(ctx, row, { ...row, status: 'active', activated_at: ctx.now().toISOString() }));
    }),
  );
  app.post(
    '/v1/_faults',
    hookRoute(ctx, (req) => {
      ctx.faults.set(parseBody(FaultsSchema, req.body));
      return { status: 200, body: { faults: ctx.faults.current() } };
    }),
  );
  app.get('/v1/_faults', hookRoute(ctx, () => ({ status: 200, body: { faults: ctx.faults.current() ?? null } })));
  app.delete(
    '/v1/_faults',
    hookRoute(ctx, () => {
      ctx.faults.clear();
      return { status: 204 };
    }),
  );
  app.post(
    '/v1/_retention',
    hookRoute(ctx, (req) => {
      const { changes } = parseBody(RetentionBody, req.body);
      ctx.feed.setRetention(changes);
      return { status: 200, body: { changes } };
    }),
  );
  app.post(
    '/v1/_staff-accounts',
    hookRoute(ctx, (req) => {
      const body = parseBody(StaffAccountBody, req.body);
      return accountAnswer(ctx, insertAccount(ctx, body, 'staff', body.status ?? 'invited'), 201);
    }),
  );
}
