import type { JWK } from 'jose';

/** A FHIR resource as JSON. The server reads only `resourceType`, `id`, `meta` and reference fields. */
export interface FhirResource {
  resourceType: string;
  id?: string;
  meta?: { versionId?: string; lastUpdated?: string; [key: string]: unknown };
  [key: string]: unknown;
}

/** A resource as the server holds it: with id, meta.versionId and meta.lastUpdated. */
export type StoredResource = FhirResource & { id: string; meta: { versionId: string; lastUpdated: string; [key: string]: unknown } };

/** Options of the FHIR R4 test server. Every field is optional. */
export interface FhirTestServerOptions {
  /**
   * SMART Backend Services auth. When set, every FHIR request except `metadata` and
   * `.well-known/smart-configuration` needs `Authorization: Bearer <token from POST /auth/token>`.
   */
  readonly auth?: {
    /** `iss` = `sub` of the client's assertion. */
    readonly clientId: string;
    /** The client's public keys; assertions must name one with the header `kid`. */
    readonly jwks: { keys: JWK[] };
    /** Seconds a token is valid (default 300), on the wall clock (not `now`). */
    readonly tokenLifetimeS?: number;
    /** Space-separated scopes the client may ask for; any scope is granted when unset (default answer system/*.read). */
    readonly scope?: string;
  };
  /** Entries per search page (default 50); `_count` overrides it up to `maxPageSize`. */
  readonly pageSize?: number;
  /** The largest `_count` honoured (default 1000); a larger one is lowered to it. */
  readonly maxPageSize?: number;
  /** `per-patient`: a RelatedPerson search without `patient` (or `_id`) is refused 400, as some vendors do. */
  readonly relatedPersonSearch?: 'any' | 'per-patient';
  /** Bulk Data `$export` (default true); false → the $export routes answer 404 and metadata does not list it. */
  readonly bulkExport?: boolean;
  /** Status polls answered 202 before the manifest (default 2). */
  readonly exportPolls?: number;
  /** Retry-After (seconds) on those 202s (default 1). */
  readonly exportRetryAfterS?: number;
  /** Lines per NDJSON file of an export (default 100,000): a type with more is split over several files. */
  readonly exportFileLines?: number;
  /** Clock for meta.lastUpdated and export transactionTime (tests move it); the wall clock by default. */
  readonly now?: () => Date;
}

/** One queued fault. It applies to the next `times` requests that match, then is dropped. */
export interface FaultRule {
  /** Which requests: a string matches the path exactly or is a prefix of path+query; a RegExp is tested on path+query. All when absent. */
  readonly path?: RegExp | string;
  /** Only this HTTP method (any when absent). */
  readonly method?: string;
  /** How many matching requests (default 1). */
  readonly times?: number;
  /** Answer this status with an OperationOutcome instead of handling the request (429, 500, 503…). */
  readonly status?: number;
  /** Retry-After seconds sent with `status` (default 1 for 429, none otherwise). */
  readonly retryAfterS?: number;
  /** Wait this long before answering (alone: a slow response; with `status`: a slow error). */
  readonly delayMs?: number;
  /**
   * Handle the request, then spoil the answer. `json`: the body is cut in half (invalid JSON; in an NDJSON file, one
   * line is cut). `resource`: one entry of a Bundle (the middle one), a read's body, or one NDJSON line becomes
   * `{"patient": 42, …}` without a resourceType; the rest is intact.
   */
  readonly malformed?: 'json' | 'resource';
}

/** One request the server received, in arrival order. */
export interface RecordedRequest {
  readonly method: string;
  /** The path without the query, e.g. `/fhir/RelatedPerson`. */
  readonly path: string;
  /** The path with the raw query, as sent. */
  readonly url: string;
  /** The parsed query; a repeated parameter gives an array. */
  readonly query: Readonly<Record<string, string | readonly string[]>>;
  /** True when auth is off, or the request carried a valid bearer token. */
  readonly authorized: boolean;
}
