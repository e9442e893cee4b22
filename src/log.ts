/**
 * Logging (DESIGN §10, STYLE rule 8): winston, one JSON line per event on stdout, `{level, msg, time, ...fields}`.
 * No PHI: people appear as refs (src/refs.ts). Every line passes a redaction format that (1) turns Errors into
 * `{name, code}` — plus the message only for a BridgeError, whose messages are PHI-free by contract, and the stack
 * frames only at debug; (2) replaces fields whose key suggests PHI or a secret with '[redacted]'; (3) as a second
 * line of defence, masks emails, phone numbers, credentials in URLs, and whole HL7 / FHIR texts in any string.
 */
import winston from 'winston';
import { isBridgeError } from './errors';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Fields of a log line. Use refs for people (guardianRef, patientRef), never names, emails, phones or ids. */
export interface LogFields {
  readonly jobId?: string | number;
  readonly guardianRef?: string;
  readonly patientRef?: string;
  readonly connector?: string;
  readonly [field: string]: unknown;
}

export interface Logger {
  /** A person must act. An Error in place of the fields is logged as `err`. */
  error(msg: string, fields?: LogFields | Error): void;
  /** Something went wrong and heals itself (a retry). */
  warn(msg: string, fields?: LogFields | Error): void;
  /** A state transition. */
  info(msg: string, fields?: LogFields | Error): void;
  /** Shapes, never values. */
  debug(msg: string, fields?: LogFields | Error): void;
  /** A logger that adds `fields` to every line (e.g. `{jobId, guardianRef, patientRef, connector}`). */
  child(fields: LogFields): Logger;
  isLevelEnabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  readonly level: LogLevel;
  /** Where lines go; process.stdout by default (tests pass a PassThrough). */
  readonly stream?: NodeJS.WritableStream;
  /** Fields on every line, e.g. `{ service: 'portal-bridge' }`. */
  readonly base?: LogFields;
}

export const REDACTED = '[redacted]';
const MESSAGE = Symbol.for('message');
/** Fields the line itself owns; a caller's field of that name is kept as `_<name>`. */
const RESERVED = new Set(['level', 'msg', 'message', 'time']);

export function createLogger(options: LoggerOptions): Logger {
  const stacks = options.level === 'debug';
  const w = winston.createLogger({
    level: options.level,
    format: jsonLine({ stacks }),
    transports: [new winston.transports.Stream({ stream: options.stream ?? process.stdout })],
  });
  const make = (bound: Readonly<Record<string, unknown>>): Logger => {
    const write = (level: LogLevel, msg: string, fields?: LogFields | Error): void => {
      if (!w.isLevelEnabled(level)) return;
      const own = fields instanceof Error ? { err: fields } : (fields ?? {});
      const info: Record<string, unknown> = {};
      for (const [k, v] of Object.entries({ ...bound, ...own })) info[RESERVED.has(k) ? `_${k}` : k] = v;
      w.log({ ...info, level, message: msg });
    };
    return {
      error: (msg, fields) => write('error', msg, fields),
      warn: (msg, fields) => write('warn', msg, fields),
      info: (msg, fields) => write('info', msg, fields),
      debug: (msg, fields) => write('debug', msg, fields),
      child: (fields) => make({ ...bound, ...fields }),
      isLevelEnabled: (level) => w.isLevelEnabled(level),
    };
  };
  return make(options.base ?? {});
}

/** The winston format: redacts, then renders `{level, msg, time, ...fields}` as one JSON line. */
export const jsonLine = winston.format((info, opts) => {
  const stacks = (opts as { stacks?: boolean } | undefined)?.stacks === true;
  const { level, message, ...fields } = info;
  const line = { level, msg: maskString(String(message)), time: new Date().toISOString(), ...redactFields(fields, { stacks }) };
  info[MESSAGE] = JSON.stringify(line);
  return info;
});

/** Redacted copy of a record of fields (see the module comment); JSON-safe. */
export function redactFields(fields: Readonly<Record<string, unknown>>, options: { stacks: boolean }): Record<string, unknown> {
  return scrubEntries(Object.entries(fields), 0, new Set(), options.stacks);
}

const MAX_DEPTH = 8;

function scrub(v: unknown, depth: number, seen: Set<object>, stacks: boolean): unknown {
  if (typeof v === 'string') return maskString(v);
  if (v === null || v === undefined || typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return maskString(v.toString());
  if (typeof v !== 'object') return undefined; // functions, symbols
  if (v instanceof Error) return errorShape(v, depth, seen, stacks);
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return REDACTED; // raw bytes: an MLLP frame, a file
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (seen.has(v)) return '[circular]';
  seen.add(v);
  let out: unknown;
  if (Array.isArray(v)) out = v.map((x) => scrub(x, depth + 1, seen, stacks));
  else if (v instanceof Set) out = [...v].map((x) => scrub(x, depth + 1, seen, stacks));
  else if (v instanceof Map) out = scrubEntries([...v.entries()].map(([k, x]) => [String(k), x]), depth + 1, seen, stacks);
  else if (typeof (v as { toJSON?: unknown }).toJSON === 'function') out = scrub((v as { toJSON(): unknown }).toJSON(), depth + 1, seen, stacks);
  else out = scrubEntries(Object.entries(v), depth + 1, seen, stacks);
  seen.delete(v);
  return out;
}

function scrubEntries(entries: readonly (readonly [string, unknown])[], depth: number, seen: Set<object>, stacks: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of entries) {
    // A flag (hasEmail: true) says nothing about the person; any other value under such a key is withheld.
    out[k] = isSensitiveKey(k) && x !== null && x !== undefined && typeof x !== 'boolean' ? REDACTED : scrub(x, depth, seen, stacks);
  }
  return out;
}

/**
 * `{name, code?, status?, retryAfterMs?, message?, stack?, cause?, errors?}`. Any other property of an error
 * (an HTTP client's request config and response body, a driver's query parameters) is dropped unseen.
 */
function errorShape(e: Error, depth: number, seen: Set<object>, stacks: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { name: /^[\w$.]{1,64}$/.test(e.name) ? e.name : 'Error' };
  const code: unknown = (e as { code?: unknown }).code;
  if ((typeof code === 'string' || typeof code === 'number') && /^[\w.-]{1,64}$/.test(String(code))) out['code'] = code;
  if (isBridgeError(e)) {
    if (e.status !== undefined) out['status'] = e.status;
    if (e.retryAfterMs !== undefined) out['retryAfterMs'] = e.retryAfterMs;
    out['message'] = maskString(e.message);
  }
  // Frames only: a stack's first line repeats the message, which for other errors may hold data.
  if (stacks && typeof e.stack === 'string') out['stack'] = maskString(e.stack.split('\n').filter((l) => /^\s+at /.test(l)).join('\n'));
  if (depth < MAX_DEPTH && !seen.has(e)) {
    seen.add(e);
    if (e.cause !== undefined) out['cause'] = e.cause instanceof Error ? errorShape(e.cause, depth + 1, seen, stacks) : REDACTED;
    if (e instanceof AggregateError) out['errors'] = (e.errors as unknown[]).map((x) => (x instanceof Error ? errorShape(x, depth + 1, seen, stacks) : REDACTED));
    seen.delete(e);
  }
  return out;
}

// Keys are split into lower-case words: givenName → given name, birth_date → birth date, MRN → mrn.
const SENSITIVE_WORDS = new Set([
  'name', 'names', 'given', 'family', 'surname', 'firstname', 'lastname', 'middlename', 'fullname', 'givenname', 'familyname', 'maidenname',
  'email', 'emails', 'mail', 'phone', 'phones', 'mobile', 'cell', 'fax', 'telecom', 'tel',
  'dob', 'birth', 'birthdate', 'birthday', 'mrn', 'ssn', 'address', 'addresses', 'addr', 'street', 'city', 'zip', 'postcode', 'postal',
  'raw', 'hl7', 'fhir', 'body', 'payload', 'segment', 'segments', 'note', 'notes', 'comment', 'text',
  'password', 'passwd', 'secret', 'token', 'authorization', 'cookie', 'apikey', 'credentials',
]);
// Whole keys: a message's text (messageType and messageId stay), and identifiers that carry PHI — a patientId is
// an MRN, a guardian key (also a job's key) embeds email and name keys.
const SENSITIVE_KEYS = new Set([
  'message', 'msg', 'content', 'key', 'jobkey', 'guardiankey', 'externalid', 'patientid', 'patientids', 'contactid', 'contactids',
  'survivorid', 'mergedid', 'refkey', 'secretkey', 'privatekey',
]);

/** True when a field's key suggests PHI or a secret. Keys ending in Ref/Refs hold keyed hashes and are kept. */
export function isSensitiveKey(key: string): boolean {
  if (/(?:Ref|Refs|_ref|_refs)$/.test(key)) return false;
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== '');
  if (SENSITIVE_KEYS.has(words.join(''))) return true;
  return words.some((w) => SENSITIVE_WORDS.has(w) || /^(hl7|fhir|email|phone|birth|address)/.test(w));
}

const HL7_SEGMENT = /^[A-Z][A-Z0-9]{2}\|/m;
const FHIR_JSON = /"resourceType"\s*:/;
const URL_CREDENTIALS = /(\/\/[^\s/:@]*):[^\s/@]*@/g;
const EMAIL = /[^\s@<>"'(),;:[\]]+@[^\s@<>"'(),;:[\]]+\.[A-Za-z]{2,}/g;
// A run of digits and phone punctuation, not glued to a word, a path or a time; 7–15 digits (E.164) count.
const PHONE = /(?<![\w:/.+-])\+?\(?\d[\d ().-]{5,}\d(?![\w:/-]|\.\d)/g;

/** A string with HL7 / FHIR texts withheld whole and emails, phone numbers and URL passwords masked. */
export function maskString(s: string): string {
  if (HL7_SEGMENT.test(s) || FHIR_JSON.test(s)) return REDACTED;
  return s
    .replace(URL_CREDENTIALS, '$1:***@')
    .replace(EMAIL, REDACTED)
    .replace(PHONE, (m) => {
      const digits = m.replace(/\D/g, '').length;
      return digits >= 7 && digits <= 15 ? REDACTED : m;
    });
}
