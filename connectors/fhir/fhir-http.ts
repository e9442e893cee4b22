/**
 * The FHIR HTTP client the poller, backfill and subscriptions use. search/nextPage/read go through
 * fhir-kit-client 1.9.2; request() ($export kick-off and status) and ndjsonLines() (Bulk Data output files) use
 * Node's fetch. Every call: a timeout, the SMART bearer token (one fresh token and one more try on a 401), and
 * the polite retry of fhir-retry.ts (429/5xx/network, Retry-After honoured). Failures are ERR_FHIR_* BridgeErrors
 * (fhir-http-errors.ts) whose messages and logs name the path and query parameter names, never values.
 */
import Client from 'fhir-kit-client';
import { BridgeError, isBridgeError } from '../../src/errors';
import type { Logger } from '../../src/log';
import { describe, malformedError, siteOf, statusError, transportError, type CallSite } from './fhir-http-errors';
import { createRetrier, type RetryOptions } from './fhir-retry';
import { splitLines } from './ndjson-lines';
import type { TokenProvider } from './smart-auth';

export interface FhirHttpOptions {
  /** The FHIR server's base URL, e.g. `https://ehr.example.org/fhir/r4`. */
  readonly baseUrl: string;
  /** SMART Backend Services tokens (smart-auth.ts); without it requests carry no Authorization header. */
  readonly auth?: TokenProvider;
  /** Per request, in milliseconds (default 30,000); for ndjsonLines: until the headers, then between chunks. */
  readonly timeoutMs?: number;
  /** Retries of 429/5xx/network failures (defaults: 5 retries, 500 ms doubling to 60 s, Retry-After ≤ 5 min). */
  readonly retry?: RetryOptions;
  /** Default `portal-bridge`. */
  readonly userAgent?: string;
  readonly log: Logger;
}

export interface FhirHttp {
  /** `GET [base]/{resourceType}?params`; the answer must be a Bundle. Retried; throws ERR_FHIR_*. */
  search(resourceType: string, params: Record<string, string | number>): Promise<FhirBundle>;
  /** Follows the Bundle's `next` link; undefined when there is none. With auth, the link must stay on the base's origin. */
  nextPage(bundle: FhirBundle): Promise<FhirBundle | undefined>;
  /** `GET [base]/{resourceType}/{id}`; ERR_FHIR_REQUEST with `status` 404/410 when it is not there. */
  read(resourceType: string, id: string): Promise<FhirResource>;
  /** Absolute or base-relative URL, for $export kick-off (headers Prefer: respond-async, Accept: application/fhir+json) and status polling: returns status, headers and parsed body (no throw on 202). */
  request(url: string, init?: { method?: 'GET' | 'DELETE'; headers?: Record<string, string> }): Promise<{ status: number; headers: Headers; body: unknown }>;
  /**
   * Streams an NDJSON file line by line, never the whole file in memory. With requiresAccessToken the token is sent,
   * and (with auth) only to the base's origin; without, no token is sent and the file may be anywhere.
   */
  ndjsonLines(url: string, requiresAccessToken: boolean): AsyncIterable<string>;
}

export type FhirResource = { resourceType: string; id?: string; meta?: { versionId?: string; lastUpdated?: string }; [k: string]: unknown };
export type FhirBundle = FhirResource & {
  type?: string;
  total?: number;
  link?: { relation: string; url: string }[];
  entry?: { fullUrl?: string; resource?: unknown; search?: { mode?: string } }[];
};

type KitBundle = Parameters<Client['nextPage']>[0]['bundle'];
type Stream = { readonly body: ReadableStream<Uint8Array> | null; readonly controller: AbortController };

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const RESOURCE_TYPE = /^[A-Z][A-Za-z]{1,63}$/;
const MALFORMED = Symbol('malformed JSON');

export function createFhirHttp(options: FhirHttpOptions): FhirHttp {
  let base: URL;
  try {
    base = new URL(options.baseUrl.replace(/\/*$/, '/'));
  } catch {
    throw new BridgeError('ERR_CONFIG_INVALID', 'FHIR baseUrl is not a URL');
  }
  const { auth, log } = options;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const userAgent = options.userAgent ?? 'portal-bridge';
  // The token goes per request (options.headers), not through the shared `client.bearerToken` setter, so that
  // concurrent calls around a refresh never send each other's token.
  const client = new Client({ baseUrl: base.href, customHeaders: { 'user-agent': userAgent } });
  const retry = createRetrier(options.retry, log);

  /** One attempt of `send`; with a token, a 401 gets one fresh token and one more try, then ERR_FHIR_AUTH. */
  async function authorized<T>(site: CallSite, withToken: boolean, send: (headers: Record<string, string>) => Promise<T>): Promise<T> {
    if (auth === undefined || !withToken) return send({});
    const first = await auth.token();
    try {
      return await send({ authorization: `Bearer ${first}` });
    } catch (e) {
      if (!(isBridgeError(e) && e.status === 401)) throw e;
      auth.invalidate(first);
    }
    const second = await auth.token();
    try {
      return await send({ authorization: `Bearer ${second}` });
    } catch (e) {
      if (isBridgeError(e) && e.status === 401) throw new BridgeError('ERR_FHIR_AUTH', `${describe(site)} answered 401 again to a fresh token`, { status: 401, cause: e });
      throw e;
    }
  }

  function viaKit(site: CallSite, call: (init: RequestInit) => Promise<unknown> | undefined): Promise<unknown> {
    return retry(site, () =>
      authorized(site, true, async (headers) => {
        try {
          return await call({ headers, signal: AbortSignal.timeout(timeoutMs) });
        } catch (e) {
          throw kitError(site, e, timeoutMs);
        }
      }),
    );
  }

  /** A URL for request()/nextPage(): absolute, or resolved below the base; with auth, only on the base's origin. */
  function target(method: string, url: string): { url: URL; site: CallSite } {
    const resolved = resolve(url, base);
    const site = siteOf(method, resolved, base);
    if (auth !== undefined && resolved.origin !== base.origin) {
      throw new BridgeError('ERR_FHIR_REQUEST', `${describe(site)}: not sending the FHIR token outside ${base.origin}`);
    }
    return { url: resolved, site };
  }

  async function openStream(site: CallSite, url: URL, headers: Record<string, string>): Promise<Stream> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(timeoutReason()), timeoutMs);
    try {
      const res = await fetch(url, { headers: { accept: 'application/fhir+ndjson', 'user-agent': userAgent, ...headers }, signal: controller.signal });
      if (!res.ok) throw statusError(site, res.status, parseBody(await res.text()), res.headers.get('retry-after'));
      return { body: res.body, controller };
    } catch (e) {
      throw transportError(site, e, timeoutMs);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    async search(resourceType, params) {
      const names = Object.keys(params).sort();
      const site: CallSite = { method: 'GET', where: `${safeType(resourceType)}${names.length === 0 ? '' : `?${names.join('&')}`}` };
      checkType(site, resourceType);
      return asBundle(site, await viaKit(site, (init) => client.search({ resourceType, searchParams: params, options: init })));
    },

    async nextPage(bundle) {
      const next = Array.isArray(bundle.link) ? bundle.link.find((l) => l?.relation === 'next')?.url : undefined;
      if (typeof next !== 'string' || next === '') return undefined;
      const { url, site } = target('GET', next);
      const page: KitBundle = { resourceType: 'Bundle', type: 'searchset', link: [{ relation: 'next', url: url.href }] };
      return asBundle(site, await viaKit(site, (init) => client.nextPage({ bundle: page, options: init })));
    },

    async read(resourceType, id) {
      const site: CallSite = { method: 'GET', where: `${safeType(resourceType)}/{id}` };
      checkType(site, resourceType);
      if (!FHIR_ID.test(id)) throw new BridgeError('ERR_FHIR_REQUEST', `${describe(site)}: the id is not a FHIR id`);
      const resource = asResource(site, await viaKit(site, (init) => client.read({ resourceType, id, options: init })));
      if (resource.resourceType !== resourceType) throw malformedError(site, 200, `a ${safeType(resource.resourceType)}, not a ${resourceType}`);
      return resource;
    },

    async request(url, init) {
      const method = init?.method ?? 'GET';
      const { url: where, site } = target(method, url);
      const callerHeaders = Object.fromEntries(Object.entries(init?.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
      return retry(site, () =>
        authorized(site, true, async (authHeader) => {
          let res: Response;
          let text: string;
          try {
            const headers = { accept: 'application/fhir+json', 'user-agent': userAgent, ...callerHeaders, ...authHeader };
            res = await fetch(where, { method, headers, signal: AbortSignal.timeout(timeoutMs) });
            text = await res.text();
          } catch (e) {
            throw transportError(site, e, timeoutMs);
          }
          const body = parseBody(text);
          if (!res.ok) throw statusError(site, res.status, body === MALFORMED ? undefined : body, res.headers.get('retry-after'));
          if (body === MALFORMED) throw malformedError(site, res.status, 'not JSON');
          return { status: res.status, headers: res.headers, body };
        }),
      );
    },

    async *ndjsonLines(url, requiresAccessToken) {
      // A file that needs the token is fetched only from the FHIR server's own origin: a manifest naming another
      // host must not receive our token. A file that needs no token may live anywhere (a storage service).
      const { url: where, site } = requiresAccessToken ? target('GET', url) : { url: resolve(url, base), site: siteOf('GET', resolve(url, base), base) };
      const stream = await retry(site, () => authorized(site, requiresAccessToken, (headers) => openStream(site, where, headers)));
      if (stream.body === null) return;
      let lines = 0;
      try {
        for await (const line of splitLines(chunks(stream, timeoutMs))) {
          lines++;
          yield line;
        }
      } catch (e) {
        // Lines already went to the caller, so no retry here: the caller starts the file (or the export) again.
        if ((e as { code?: unknown }).code === 'ERR_ENCODING_INVALID_ENCODED_DATA') throw malformedError(site, 200, `not UTF-8 after ${lines} lines`);
        const cause = transportError(site, e, timeoutMs);
        throw new BridgeError('ERR_FHIR_UNAVAILABLE', `${describe(site)}: the stream broke after ${lines} lines`, { cause });
      }
    },
  };
}

/** Body chunks; a read waiting longer than `timeoutMs` aborts; leaving early (break, throw) closes the connection. */
async function* chunks(stream: Stream, timeoutMs: number): AsyncGenerator<Uint8Array, void, undefined> {
  if (stream.body === null) return;
  const reader = stream.body.getReader();
  let finished = false;
  try {
    for (;;) {
      const timer = setTimeout(() => stream.controller.abort(timeoutReason()), timeoutMs);
      let next: Awaited<ReturnType<typeof reader.read>>;
      try {
        next = await reader.read();
      } finally {
        clearTimeout(timer);
      }
      if (next.done) {
        finished = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!finished) stream.controller.abort();
  }
}

function timeoutReason(): Error {
  return Object.assign(new Error('timed out'), { name: 'TimeoutError' });
}

/** fhir-kit-client 1.9.2 throws plain objects `{response: {status, data}, config: {headers}}` (headers: the response's). */
function kitError(site: CallSite, e: unknown, timeoutMs: number): BridgeError {
  const response = (e as { response?: { status?: unknown; data?: unknown } } | null | undefined)?.response;
  if (typeof response?.status !== 'number') return transportError(site, e, timeoutMs);
  const status = response.status;
  // 1.9.2 rejects a 2xx whose body is not JSON the same way, with the text as data.
  if (status >= 200 && status <= 299) return malformedError(site, status, 'not JSON');
  const headers: unknown = (e as { config?: { headers?: unknown } }).config?.headers;
  const retryAfter = typeof (headers as { get?: unknown } | undefined)?.get === 'function' ? (headers as Headers).get('retry-after') : undefined;
  return statusError(site, status, response.data, retryAfter);
}

function resolve(url: string, base: URL): URL {
  return /^[a-z][a-z0-9+.-]*:/i.test(url) ? new URL(url) : new URL(url.replace(/^\/+/, ''), base);
}

function parseBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return MALFORMED;
  }
}

function safeType(resourceType: unknown): string {
  return typeof resourceType === 'string' && RESOURCE_TYPE.test(resourceType) ? resourceType : '(unknown type)';
}

function checkType(site: CallSite, resourceType: string): void {
  if (!RESOURCE_TYPE.test(resourceType)) throw new BridgeError('ERR_FHIR_REQUEST', `${describe(site)}: not a FHIR resource type`);
}

function asResource(site: CallSite, body: unknown): FhirResource {
  const ok = body !== null && typeof body === 'object' && !Array.isArray(body) && typeof (body as { resourceType?: unknown }).resourceType === 'string';
  if (!ok) throw malformedError(site, 200, 'no resourceType');
  // A shallow copy: fhir-kit-client hangs hidden __request/__response on its answers, and the Request holds our token.
  return { ...(body as FhirResource) };
}

function asBundle(site: CallSite, body: unknown): FhirBundle {
  const resource = asResource(site, body);
  if (resource.resourceType !== 'Bundle') throw malformedError(site, 200, `a ${safeType(resource.resourceType)}, not a Bundle`);
  const { link, entry } = resource as { link?: unknown; entry?: unknown };
  if ((link !== undefined && !Array.isArray(link)) || (entry !== undefined && !Array.isArray(entry))) throw malformedError(site, 200, 'link or entry is not a list');
  return resource as FhirBundle;
}
