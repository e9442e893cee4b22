/**
 * Typed errors (STYLE rule 4). Every code lives in ERROR_CATALOG with its class; only the retry policy reads the
 * class. README's error table is kept in step with this catalog by a test.
 */
export const ERROR_CLASSES = ['transient', 'ambiguous', 'permanent'] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

export const ERROR_CATALOG = {
  ERR_MAPPING_INVALID_FILE: { class: 'permanent', meaning: 'A mapping file is not valid YAML or breaks the mapping schema.' },
  ERR_MAPPING_INVALID_PATH: { class: 'permanent', meaning: 'An HL7 path or FHIRPath expression in a mapping cannot be parsed.' },
  ERR_MAPPING_UNSUPPORTED_EVENT: { class: 'permanent', meaning: 'The message type is not one the mapping accepts.' },
  ERR_MAPPING_MISSING_FIELD: { class: 'permanent', meaning: 'A required field (such as the patient id) is empty in the message.' },
  ERR_HL7_UNPARSEABLE: { class: 'permanent', meaning: 'The input is not an HL7 v2 message (no MSH, broken delimiters, unreadable structure).' },
  ERR_HL7_PROCESSING_ID: { class: 'permanent', meaning: 'The message\'s processing id (MSH-11) is not one the channel accepts: answered AR, stored as rejected.' },
  ERR_HL7_TOO_LARGE: { class: 'permanent', meaning: 'An MLLP message exceeded the channel\'s `maxMessageBytes`: answered AR, its first bytes stored as rejected.' },
  ERR_FHIR_UNPARSEABLE: { class: 'permanent', meaning: 'The input is not FHIR R4 JSON (bad JSON, no resourceType, unsupported resource).' },
  ERR_INPUT_UNREADABLE: { class: 'permanent', meaning: 'An input file cannot be read or its format is not recognised.' },
  ERR_PORTAL_RATE_LIMITED: { class: 'transient', meaning: 'The portal answered 429: retried after its Retry-After.' },
  ERR_PORTAL_UNAVAILABLE: { class: 'transient', meaning: 'The portal answered 5xx: retried with backoff.' },
  ERR_PORTAL_CONNECTION: { class: 'transient', meaning: 'The portal could not be reached (refused, reset, DNS): retried with backoff.' },
  ERR_PORTAL_TIMEOUT: { class: 'ambiguous', meaning: 'No answer after the request was sent: retried with the same idempotency key.' },
  ERR_PORTAL_IN_FLIGHT: { class: 'transient', meaning: 'The portal is still processing a request with the same idempotency key (409).' },
  ERR_PORTAL_PRECONDITION_FAILED: { class: 'transient', meaning: 'The account changed since it was read (412): re-read and retried.' },
  ERR_PORTAL_EMAIL_IN_USE: { class: 'permanent', meaning: 'Another portal account already uses this email (409 email_in_use).' },
  ERR_PORTAL_INVALID_REQUEST: { class: 'permanent', meaning: 'The portal refused the request as invalid (400/422), or an idempotency key was reused with another body.' },
  ERR_PORTAL_FORBIDDEN: { class: 'permanent', meaning: 'The portal refused by policy (401/403).' },
  ERR_PORTAL_NOT_FOUND: { class: 'permanent', meaning: 'The portal does not know the account (404).' },
  ERR_PORTAL_CURSOR_EXPIRED: { class: 'permanent', meaning: 'The portal changes cursor is too old (410): a full resync is needed.' },
  ERR_PORTAL_UNEXPECTED: { class: 'permanent', meaning: 'The portal answered something the contract does not allow.' },
  ERR_STORE_UNAVAILABLE: { class: 'transient', meaning: 'The database could not be reached or is busy: retried.' },
  ERR_GUARD_MASS_UNLINK: { class: 'permanent', meaning: 'The mass-unlink guard held this run\'s unlinks: a person checks, then runs `portal-bridge guard release`.' },
  ERR_JOB_ABANDONED: { class: 'permanent', meaning: 'A job\'s worker stopped before finishing it on every attempt (crash, kill, or a run longer than the lease): failed, for support to look at and replay.' },
  ERR_INTERNAL: { class: 'permanent', meaning: 'A bug: an error that is not a BridgeError. The job goes to the failed list for support.' },
  ERR_CONNECTOR_START: { class: 'permanent', meaning: 'A connector could not start (its port is in use, say): start-up stops and names the connector.' },
  ERR_CONFIG_INVALID: { class: 'permanent', meaning: 'The configuration is invalid: start-up is refused with every problem listed.' },
  ERR_FHIR_AUTH: { class: 'permanent', meaning: 'The FHIR authorization server refused our client (token endpoint 400/401/403, e.g. invalid_client), or the FHIR server answered 401 again to a fresh token.' },
  ERR_FHIR_UNAVAILABLE: { class: 'transient', meaning: 'The FHIR server or its token endpoint answered 429/5xx, timed out or could not be reached, still after the HTTP retries (Retry-After honoured).' },
  ERR_FHIR_REQUEST: { class: 'permanent', meaning: 'The FHIR server refused a request (4xx other than 401/429, or 501), or a URL left the FHIR base URL\'s origin.' },
  ERR_FHIR_MALFORMED: { class: 'permanent', meaning: 'The FHIR server or its token endpoint answered 2xx with a body that is not the JSON expected (not JSON, no resourceType, not a Bundle).' },
} as const satisfies Record<string, { class: ErrorClass; meaning: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/** An error with a catalog code. `message` is one line, safe to show staff (no patient data). */
export class BridgeError extends Error {
  override readonly name = 'BridgeError';
  /** For ERR_PORTAL_RATE_LIMITED (and 503): how long the server asked us to wait, in milliseconds. */
  readonly retryAfterMs?: number;
  /** The HTTP status behind a portal error, when there was one. */
  readonly status?: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; retryAfterMs?: number; status?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    if (options?.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    if (options?.status !== undefined) this.status = options.status;
  }

  /** The retry class of this error's code. */
  get errorClass(): ErrorClass {
    return ERROR_CATALOG[this.code].class;
  }
}

/** True for a BridgeError (also across module copies, by shape). */
export function isBridgeError(e: unknown): e is BridgeError {
  return e instanceof BridgeError;
}
