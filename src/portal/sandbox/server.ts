/**
 * The sandbox portal: a real HTTP server (fastify) implementing the REST contract of DESIGN §7.1 on its own
 * SQLite database, with test hooks (outbox, first login, faults). Demo, tests and benchmarks use it.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { SandboxContext } from './context';
import { openSandboxDb } from './db';
import { FaultInjector } from './faults';
import { IdempotencyStore } from './idempotency';
import { send } from './pipeline';
import { problemAnswer, ProblemError } from './problem';
import { accountRoutes } from './routes/accounts';
import { changeRoutes } from './routes/changes';
import { invitationRoutes } from './routes/invitations';
import { linkRoutes } from './routes/links';
import { testHookRoutes } from './routes/test-hooks';
import { AccountStore } from './store/accounts';
import { ChangeFeed, DEFAULT_CHANGES_RETENTION } from './store/changes';
import { Outbox } from './store/outbox';

/** Options of a sandbox portal. */
export interface SandboxOptions {
  /** TCP port; 0 (the default) picks a free one. */
  readonly port?: number;
  /** Bind address; 127.0.0.1 by default (the sandbox has no authentication). */
  readonly host?: string;
  /** SQLite file (WAL); `:memory:` (the default) keeps everything in memory until close. */
  readonly dbFile?: string;
  /** How many changes the feed keeps (default 10,000); older cursors answer 410. */
  readonly changesRetention?: number;
  /** The clock (tests); `() => new Date()` by default. */
  readonly now?: () => Date;
}

/** A running sandbox portal. */
export interface RunningSandbox {
  /** Base URL, e.g. `http://127.0.0.1:41234` (routes are under /v1). */
  readonly url: string;
  /** Stops accepting requests, waits for those in progress, closes the database. Safe to call twice. */
  close(): Promise<void>;
}

/** Builds the fastify app (not listening) and its context. `close()` also closes the database. */
export function createSandboxApp(options: Omit<SandboxOptions, 'port' | 'host'> = {}): { app: FastifyInstance; ctx: SandboxContext } {
  const db = openSandboxDb(options.dbFile);
  const ctx: SandboxContext = {
    db,
    accounts: new AccountStore(db),
    feed: new ChangeFeed(db, options.changesRetention ?? DEFAULT_CHANGES_RETENTION),
    outbox: new Outbox(db),
    idempotency: new IdempotencyStore(db),
    faults: new FaultInjector(),
    now: options.now ?? (() => new Date()),
    newId: (prefix) => `${prefix}_${randomUUID().replaceAll('-', '')}`,
  };
  // No request log: query strings carry emails.
  const app = Fastify({ logger: false });
  app.setErrorHandler((error: FastifyError, _req, reply) => {
    if (error instanceof ProblemError) return send(reply, error.toAnswer());
    const status = error.statusCode ?? 500;
    // Not error.message: a JSON parse error quotes the body, which may hold patient data.
    if (status >= 400 && status < 500) {
      return send(reply, problemAnswer(status, status === 415 ? 'unsupported_media_type' : 'invalid_request', `The request was refused before reaching the route (${error.code}).`));
    }
    return send(reply, problemAnswer(500, 'internal', 'The sandbox failed to handle the request.'));
  });
  app.setNotFoundHandler((req, reply) => send(reply, problemAnswer(404, 'route_not_found', `No route ${req.method} ${req.url.split('?')[0] ?? ''}.`)));
  accountRoutes(app, ctx);
  linkRoutes(app, ctx);
  invitationRoutes(app, ctx);
  changeRoutes(app, ctx);
  testHookRoutes(app, ctx);
  // A keep-alive connection whose request was in flight when close() began would hold close() for the whole
  // keep-alive timeout: answer it with Connection: close instead.
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });
  app.addHook('onClose', () => {
    if (db.open) db.close();
  });
  return { app, ctx };
}

/** Starts a sandbox portal on `host:port` (127.0.0.1, any free port by default). */
export async function startSandboxPortal(options: SandboxOptions = {}): Promise<RunningSandbox> {
  const { app } = createSandboxApp(options);
  let url: string;
  try {
    url = await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
  } catch (e) {
    await app.close();
    throw e;
  }
  let closing: Promise<void> | undefined;
  return {
    url,
    close: () => {
      closing ??= app.close();
      return closing;
    },
  };
}
