/**
 * How every faultable /v1 request runs: fault decision (429 / 5xx before any work) → idempotency claim →
 * latency → the work, in one SQLite transaction with the stored answer → answer, or drop the connection.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SandboxContext } from './context';
import { requestFingerprint } from './idempotency';
import { ProblemError, problemAnswer, type Answer } from './problem';

/** Whether a route reads the Idempotency-Key header: required (400 without), honoured when present, or ignored. */
export type KeyUse = 'required' | 'optional' | 'ignored';

/** The synchronous work of a route; throws ProblemError for 4xx answers. */
export type RouteWork = (req: FastifyRequest) => Answer;

/** A fastify handler running `work` through faults, idempotency and one transaction. */
export function faultableRoute(ctx: SandboxContext, keyUse: KeyUse, work: RouteWork) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const decision = ctx.faults.next();
    if (decision.kind === 'reject') {
      const headers: Record<string, string> = decision.retryAfterSeconds === undefined ? {} : { 'retry-after': String(decision.retryAfterSeconds) };
      const code = decision.status === 429 ? 'rate_limited' : 'unavailable';
      return send(reply, problemAnswer(decision.status, code, 'Injected fault.', headers));
    }
    const answer = await run(ctx, keyUse, work, req, decision.latencyMs);
    if (decision.drop) {
      reply.hijack();
      req.raw.socket.destroy();
      return reply;
    }
    return send(reply, answer);
  };
}

/** A fastify handler for test hooks: no faults, no idempotency, still one transaction. */
export function hookRoute(ctx: SandboxContext, work: RouteWork) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => send(reply, await run(ctx, 'ignored', work, req, 0));
}

async function run(ctx: SandboxContext, keyUse: KeyUse, work: RouteWork, req: FastifyRequest, latencyMs: number): Promise<Answer> {
  let key: string | undefined;
  try {
    key = keyUse === 'ignored' ? undefined : idempotencyKeyOf(req, keyUse === 'required');
    if (key !== undefined) {
      const claim = ctx.idempotency.claim(key, requestFingerprint(req.method, req.url.split('?')[0] ?? '', req.body), ctx.now());
      if (claim.kind === 'replay') return claim.answer;
    }
  } catch (e) {
    if (e instanceof ProblemError) return e.toAnswer();
    throw e;
  }
  try {
    if (latencyMs > 0) await sleep(latencyMs);
    const claimed = key;
    return ctx.db.transaction(() => {
      const answer = work(req);
      if (claimed !== undefined && answer.status < 300) ctx.idempotency.complete(claimed, answer);
      return answer;
    })();
  } catch (e) {
    if (e instanceof ProblemError) return e.toAnswer();
    throw e;
  } finally {
    // Still in flight only when the work did not store a 2xx answer.
    if (key !== undefined) ctx.idempotency.release(key);
  }
}

function idempotencyKeyOf(req: FastifyRequest, required: boolean): string | undefined {
  const value = req.headers['idempotency-key'];
  if (Array.isArray(value)) throw new ProblemError(400, 'invalid_idempotency_key', 'Send one Idempotency-Key header.');
  if (value === undefined && required) throw new ProblemError(400, 'idempotency_key_required', 'This call needs an Idempotency-Key header.');
  return value;
}

/** Sends an Answer (problem bodies keep their application/problem+json type). */
export function send(reply: FastifyReply, answer: Answer): FastifyReply {
  reply.code(answer.status);
  for (const [name, value] of Object.entries(answer.headers ?? {})) reply.header(name, value);
  return answer.body === undefined ? reply.send() : reply.send(answer.body);
}
