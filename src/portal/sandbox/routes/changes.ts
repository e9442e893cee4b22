/** `GET /v1/changes?since=<cursor>[&limit=n]` → {items, nextCursor}; 410 when the cursor is no longer retained. */
import type { FastifyInstance } from 'fastify';
import type { SandboxContext } from '../context';
import { faultableRoute } from '../pipeline';
import { ProblemError } from '../problem';

const MAX_PAGE = 1000;

/** Registers the changes feed route. */
export function changeRoutes(app: FastifyInstance, ctx: SandboxContext): void {
  app.get(
    '/v1/changes',
    faultableRoute(ctx, 'ignored', (req) => {
      const q = req.query as Record<string, unknown>;
      const since = typeof q.since === 'string' && q.since !== '' ? q.since : undefined;
      const limit = q.limit === undefined ? MAX_PAGE : Number(q.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new ProblemError(400, 'invalid_query', `limit must be 1..${MAX_PAGE}.`);
      return { status: 200, body: ctx.feed.page(since, limit) };
    }),
  );
}
