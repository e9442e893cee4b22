/**
 * The REST PortalClient (DESIGN §7.1) over axios. Maps every status itself (validateStatus accepts all), checks
 * answer bodies with zod, and never retries: the job's retry policy does, with the same idempotency key.
 */
import axios, { type AxiosInstance } from 'axios';
import type { z } from 'zod';
import type { AccountPatch, DependentLink, Invitation, NewAccount, PortalAccount, PortalClient } from '../port';
import { malformedError, statusError, transportError, type CallSite } from './error-mapping';
import { AccountListSchema, AccountSchema, ChangesSchema, InvitationAnswerSchema } from './response-schemas';

/** Options of the REST client. */
export interface RestPortalClientOptions {
  /** The portal's base URL, without /v1 (e.g. `https://portal.example.org` or a sandbox's url). */
  readonly baseUrl: string;
  /** Per-request timeout in milliseconds (default 10,000). A timeout after sending is ERR_PORTAL_TIMEOUT. */
  readonly timeoutMs?: number;
  /** Extra headers on every request (e.g. Authorization). */
  readonly headers?: Readonly<Record<string, string>>;
}

interface Call extends CallSite {
  readonly url: string;
  readonly params?: Record<string, string>;
  readonly data?: unknown;
  readonly headers?: Record<string, string>;
  /** Statuses that mean success for this call. */
  readonly ok: readonly number[];
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

const enc = encodeURIComponent;

/** Creates a PortalClient talking to the REST portal at `baseUrl`. */
export function createRestPortalClient(options: RestPortalClientOptions): PortalClient {
  const http = axios.create({
    baseURL: options.baseUrl.replace(/\/+$/, ''),
    timeout: options.timeoutMs ?? 10_000,
    headers: { accept: 'application/json, application/problem+json', ...options.headers },
    validateStatus: () => true,
    maxRedirects: 0,
    responseType: 'text',
    transformResponse: [(data: unknown) => data],
  });
  const call = (c: Call): Promise<Answer> => request(http, c);

  async function readBody<T>(c: Call, schema: z.ZodType<T>): Promise<{ status: number; value: T }> {
    const answer = await call(c);
    return { status: answer.status, value: parseAnswer(c, answer, schema) };
  }

  return {
    async findAccount(query) {
      const params: Record<string, string> = 'externalId' in query ? { externalId: query.externalId } : { email: query.email };
      const { value } = await readBody({ method: 'GET', route: '/v1/accounts', url: '/v1/accounts', params, ok: [200] }, AccountListSchema);
      const first = value[0];
      return first === undefined ? undefined : toAccount(first);
    },
    async getAccount(accountId) {
      const c: Call = { method: 'GET', route: '/v1/accounts/{id}', url: `/v1/accounts/${enc(accountId)}`, ok: [200, 404] };
      const answer = await call(c);
      return answer.status === 404 ? undefined : toAccount(parseAnswer(c, answer, AccountSchema));
    },
    async createAccount(account: NewAccount, idempotencyKey) {
      const c: Call = { method: 'POST', route: '/v1/accounts', url: '/v1/accounts', data: account, headers: { 'idempotency-key': idempotencyKey }, ok: [200, 201] };
      return toAccount((await readBody(c, AccountSchema)).value);
    },
    async updateAccount(accountId, patch: AccountPatch, ifMatch, idempotencyKey) {
      const c: Call = {
        method: 'PATCH', route: '/v1/accounts/{id}', url: `/v1/accounts/${enc(accountId)}`, data: patch,
        headers: { 'if-match': entityTag(ifMatch), 'idempotency-key': idempotencyKey }, ok: [200],
      };
      return toAccount((await readBody(c, AccountSchema)).value);
    },
    async linkDependent(accountId, patientId, link: DependentLink, idempotencyKey) {
      await call({
        method: 'PUT', route: '/v1/accounts/{id}/links/{patientId}', url: `/v1/accounts/${enc(accountId)}/links/${enc(patientId)}`, data: link,
        headers: { 'idempotency-key': idempotencyKey }, ok: [200, 201, 204],
      });
    },
    async unlinkDependent(accountId, patientId, idempotencyKey) {
      await call({
        method: 'DELETE', route: '/v1/accounts/{id}/links/{patientId}', url: `/v1/accounts/${enc(accountId)}/links/${enc(patientId)}`,
        headers: { 'idempotency-key': idempotencyKey }, ok: [200, 204],
      });
    },
    async disableAccount(accountId, idempotencyKey) {
      await call({ method: 'POST', route: '/v1/accounts/{id}/disable', url: `/v1/accounts/${enc(accountId)}/disable`, headers: { 'idempotency-key': idempotencyKey }, ok: [200, 204] });
    },
    async sendInvitation(invitation: Invitation, idempotencyKey) {
      const c: Call = { method: 'POST', route: '/v1/invitations', url: '/v1/invitations', data: invitation, headers: { 'idempotency-key': idempotencyKey }, ok: [200, 201, 202] };
      const { value } = await readBody(c, InvitationAnswerSchema);
      return { invitationId: value.invitationId };
    },
    async listChanges(cursor) {
      const c: Call = { method: 'GET', route: '/v1/changes', url: '/v1/changes', ...(cursor === undefined ? {} : { params: { since: cursor } }), ok: [200] };
      const { value } = await readBody(c, ChangesSchema);
      return { items: value.items.map((i) => ({ accountId: i.accountId, externalId: i.externalId, status: i.status, at: i.at })), nextCursor: value.nextCursor };
    },
  };
}

async function request(http: AxiosInstance, c: Call): Promise<Answer> {
  let res;
  try {
    // Without a body, send no Content-Type (axios would add a form type to a bare POST).
    const headers = c.data === undefined ? { ...c.headers, 'content-type': false } : c.headers;
    res = await http.request<unknown>({ method: c.method, url: c.url, params: c.params, data: c.data, headers });
  } catch (e) {
    throw transportError(c, e);
  }
  const body = parseJson(res.data);
  if (!c.ok.includes(res.status)) {
    const retryAfter = res.headers['retry-after'] as unknown;
    throw statusError(c, res.status, body, typeof retryAfter === 'string' ? retryAfter : undefined, Date.now());
  }
  return { status: res.status, body };
}

const MALFORMED = Symbol('malformed JSON');

function parseJson(data: unknown): unknown {
  if (typeof data !== 'string' || data.trim() === '') return undefined;
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return MALFORMED;
  }
}

function parseAnswer<T>(site: CallSite, answer: Answer, schema: z.ZodType<T>): T {
  if (answer.body === MALFORMED) throw malformedError(site, answer.status, 'not JSON');
  const result = schema.safeParse(answer.body);
  if (result.success) return result.data;
  // Field paths only: values may be patient data.
  const where = result.error.issues.map((i) => (i.path.length === 0 ? '(body)' : i.path.join('.'))).join(', ');
  throw malformedError(site, answer.status, where);
}

function toAccount(a: z.output<typeof AccountSchema>): PortalAccount {
  return {
    id: a.id,
    externalId: a.externalId,
    email: a.email,
    status: a.status,
    createdBy: a.createdBy,
    version: a.version,
    links: a.links.map((l) => ({ patientId: l.patientId, accessLevel: l.accessLevel, status: l.status })),
  };
}

/** If-Match wants an entity tag: our versions are bare values, so quote them (`*` and W/ tags pass as they are). */
function entityTag(version: string): string {
  return version === '*' || version.startsWith('"') || version.startsWith('W/') ? version : `"${version}"`;
}
