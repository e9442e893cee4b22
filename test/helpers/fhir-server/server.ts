import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyError, type FastifyRequest } from 'fastify';
import { parseForm, TokenService, tokenRoutes } from './auth';
import { exportRoutes } from './bulk-export';
import { familyIds, PATIENT_KIND, relatedPersonKind, type FhirFamilyOptions } from './families';
import { FaultQueue, spoilJson } from './faults';
import { fhirRoutes } from './fhir-routes';
import { fixtureResources } from './fixtures';
import { FhirError, issueCodeFor, operationOutcome, sendFhir, sendFhirError } from './outcome';
import { ResourceStore } from './store';
import type { FaultRule, FhirResource, FhirTestServerOptions, RecordedRequest, StoredResource } from './types';

/**
 * A FHIR R4 server for the test suite and the benchmarks (issue #5): search with `_lastUpdated` and keyset paging,
 * read / vread, CapabilityStatement, Bulk Data `$export`, SMART Backend Services token endpoint, fault injection.
 * Binds 127.0.0.1 on a free port. Not a FHIR server for anything else: no writes over HTTP, few search parameters.
 */

/** A running test server. */
export interface FhirTestServer {
  /** `http://127.0.0.1:<port>/fhir` */
  readonly baseUrl: string;
  /** `http://127.0.0.1:<port>/auth/token` (the `aud` of client assertions). */
  readonly tokenUrl: string;
  /** Tokens the token endpoint has issued. */
  readonly tokensIssued: number;
  /** Create or update: assigns an id when missing, versionId = previous + 1, meta.lastUpdated = now(). Returns a copy. */
  put(resource: FhirResource): StoredResource;
  /** A copy of the current version, or undefined (never stored, or deleted). */
  get(type: string, id: string): StoredResource | undefined;
  /** Deletes; a read then answers 410 and searches skip it. False when there was nothing to delete. */
  delete(type: string, id: string): boolean;
  /** How many resources of a type the server holds. */
  count(type: string): number;
  /** Puts every resource of a folder of FHIR JSON (default: the shared public fixtures); returns how many. */
  loadPublicFixtures(dir?: string): number;
  /** Adds synthetic families (see families.ts), all stamped with one now(). */
  addFamilies(options: FhirFamilyOptions): { patients: number; relatedPersons: number };
  /** Queues a fault. */
  fault(rule: FaultRule): void;
  /** Drops every queued fault. */
  clearFaults(): void;
  /** Every request so far, in arrival order. */
  requests(): readonly RecordedRequest[];
  clearRequests(): void;
  /** Every token issued so far answers 401 from now on (a client must fetch a new one). */
  expireTokens(): void;
  /** Stops the server (in-flight requests finish). Safe to call twice. */
  close(): Promise<void>;
}

/** Paths under /fhir that need no token, as the SMART and FHIR specifications say. */
const PUBLIC_PATHS = new Set(['/fhir/metadata', '/fhir/.well-known/smart-configuration']);

export async function startFhirTestServer(options: FhirTestServerOptions = {}): Promise<FhirTestServer> {
  const now = options.now ?? (() => new Date());
  const store = new ResourceStore(now);
  const faults = new FaultQueue();
  const log: (RecordedRequest & { authorized: boolean })[] = [];
  const malformed = new WeakMap<FastifyRequest, 'json' | 'resource'>();
  let origin = '';
  const baseUrl = (): string => `${origin}/fhir`;
  const tokenUrl = (): string => `${origin}/auth/token`;
  const tokens = options.auth === undefined ? undefined : new TokenService(options.auth, tokenUrl);
  const bulkExport = options.bulkExport ?? true;

  const app = Fastify({ logger: false });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, parseForm(String(body))));
  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    const authorized = tokens === undefined || tokens.check(req.headers.authorization) === 'ok';
    log.push({ method: req.method, path, url: req.url, query: { ...(req.query as RecordedRequest['query']) }, authorized });
    const fault = faults.take(req.method, path, req.url);
    if (fault?.delayMs !== undefined) await sleep(fault.delayMs);
    if (fault?.status !== undefined) {
      const retryAfter = fault.retryAfterS ?? (fault.status === 429 ? 1 : undefined);
      if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
      return sendFhir(reply, fault.status, operationOutcome(issueCodeFor(fault.status), `injected fault ${fault.status}`));
    }
    if (fault?.malformed !== undefined) malformed.set(req, fault.malformed);
    if (tokens !== undefined && path.startsWith('/fhir/') && !PUBLIC_PATHS.has(path) && !authorized) {
      const missing = tokens.check(req.headers.authorization) === 'missing';
      reply.header('www-authenticate', missing ? 'Bearer realm="fhir"' : 'Bearer realm="fhir", error="invalid_token"');
      return sendFhir(reply, 401, operationOutcome('login', missing ? 'a bearer token is required' : 'the bearer token is unknown or expired'));
    }
    return undefined;
  });
  // A keep-alive connection whose request was in flight when close() began would hold close() for the whole
  // keep-alive timeout: answer it with Connection: close instead (as the sandbox portal does).
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onSend', async (req, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    const kind = malformed.get(req);
    return kind !== undefined && typeof payload === 'string' ? spoilJson(payload, kind) : payload;
  });
  app.setErrorHandler((error: FastifyError | FhirError, req, reply) => {
    if (req.url.startsWith('/auth/')) {
      return reply.code(400).type('application/json').send(JSON.stringify({ error: 'invalid_request', error_description: `refused (${error.code})` }));
    }
    if (error instanceof FhirError) return sendFhirError(reply, error);
    const status = error.statusCode ?? 500;
    return sendFhir(reply, status, operationOutcome(issueCodeFor(status), status < 500 ? `refused (${error.code})` : `server error: ${error.message}`));
  });
  app.setNotFoundHandler((req, reply) => sendFhir(reply, 404, operationOutcome('not-found', `no route ${req.method} ${req.url.split('?')[0] ?? ''}`)));

  const pageSize = options.pageSize ?? 50;
  fhirRoutes(app, {
    store,
    baseUrl,
    tokenUrl,
    now,
    pageSize,
    maxPageSize: Math.max(options.maxPageSize ?? 1000, pageSize),
    relatedPersonSearch: options.relatedPersonSearch ?? 'any',
    auth: tokens !== undefined,
    bulkExport,
  });
  if (bulkExport) {
    exportRoutes(app, {
      store,
      baseUrl,
      now,
      polls: options.exportPolls ?? 2,
      retryAfterS: options.exportRetryAfterS ?? 1,
      fileLines: options.exportFileLines ?? 100_000,
      requiresAccessToken: tokens !== undefined,
      malformedOf: (req) => malformed.get(req),
    });
  }
  if (tokens !== undefined) tokenRoutes(app, tokens);

  try {
    origin = await app.listen({ host: '127.0.0.1', port: 0 });
  } catch (e) {
    await app.close();
    throw e;
  }
  let closed: Promise<void> | undefined;
  return {
    baseUrl: baseUrl(),
    tokenUrl: tokenUrl(),
    get tokensIssued() {
      return tokens?.issued ?? 0;
    },
    put: (resource) => store.put(resource),
    get: (type, id) => {
      const row = store.row(type, id);
      return typeof row === 'object' ? structuredClone(store.resource(type, row)) : undefined;
    },
    delete: (type, id) => store.delete(type, id),
    count: (type) => store.count(type),
    loadPublicFixtures: (dir) => {
      const resources = fixtureResources(dir);
      for (const r of resources) store.put(r);
      return resources.length;
    },
    addFamilies: (opts) => ({
      patients: store.putGenerated('Patient', familyIds(opts, 'P'), PATIENT_KIND),
      relatedPersons: store.putGenerated('RelatedPerson', familyIds(opts, 'RP'), relatedPersonKind(opts.contactIds ?? true)),
    }),
    fault: (rule) => faults.add(rule),
    clearFaults: () => faults.clear(),
    requests: () => log.map((r) => ({ ...r })),
    clearRequests: () => {
      log.length = 0;
    },
    expireTokens: () => tokens?.expireAll(),
    close: () => {
      closed ??= app.close();
      return closed;
    },
  };
}
