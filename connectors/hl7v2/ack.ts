/**
 * HL7 v2 acknowledgements (v2.5.1 §2.9, §2.15.8 MSA, §2.15.5 ERR). Pure: the time and the ACK's own control id
 * are passed in.
 *
 * The ACK answers in the message's own delimiters, with MSH-3/4 (sending application/facility) and MSH-5/6
 * (receiving) swapped, MSH-11/12 (processing id, version) echoed, MSH-9 `ACK^<event>^ACK`, MSA-2 = the message's
 * MSH-10, and — for anything but an accept — an ERR segment with the HL7 error code (table 0357) and the reason in
 * words (ERR-3/4/8 from v2.5 on, ERR-1 before). The reason never holds patient data.
 */
import { DEFAULT_DELIMITERS, type Hl7Delimiters } from '../../src/core/hl7/escapes';
import { readDelimiters } from '../../src/core/hl7/message';

/** Original mode (MSA-1 AA/AE/AR) or enhanced mode commit ACKs (CA/CE/CR). */
export type AckCode = 'AA' | 'AE' | 'AR' | 'CA' | 'CE' | 'CR';

/** HL7 table 0357 codes used here. */
export const HL7_ERROR = {
  requiredFieldMissing: '101',
  dataTypeError: '102',
  unsupportedMessageType: '200',
  unsupportedEventCode: '201',
  unsupportedProcessingId: '202',
  internalError: '207',
} as const;
export type Hl7ErrorCode = (typeof HL7_ERROR)[keyof typeof HL7_ERROR];

const ERROR_TEXT: Record<Hl7ErrorCode, string> = {
  '101': 'Required field missing',
  '102': 'Data type error',
  '200': 'Unsupported message type',
  '201': 'Unsupported event code',
  '202': 'Unsupported processing id',
  '207': 'Application internal error',
};

/** What the ACK needs from the message it answers (all raw field text, '' when unknown). */
export interface AckHeader {
  readonly delimiters: Hl7Delimiters;
  /** MSH-2 exactly as sent (the encoding characters). */
  readonly encoding: string;
  /** MSH-3, MSH-4, MSH-5, MSH-6, raw (components kept). */
  readonly sendingApplication: string;
  readonly sendingFacility: string;
  readonly receivingApplication: string;
  readonly receivingFacility: string;
  /** MSH-9.2, the trigger event (`A04`). */
  readonly event: string;
  /** MSH-10, raw. */
  readonly controlId: string;
  /** MSH-11, raw. */
  readonly processingId: string;
  /** MSH-12.1. */
  readonly version: string;
  /** MSH-15 / MSH-16 (accept / application acknowledgment type): either set means enhanced mode. */
  readonly acceptAckType: string;
  readonly applicationAckType: string;
}

const FALLBACK_ENCODING = '^~\\&';

/**
 * Reads the ACK header from the first MSH line of a message, as leniently as possible: a message too broken to
 * parse still gets an ACK (with whatever MSH-10 can be read, else an empty MSA-2).
 */
export function readAckHeader(text: string): AckHeader {
  const start = text.indexOf('MSH');
  const line = start < 0 ? '' : (text.slice(start).split(/[\r\n]/, 1)[0] ?? '');
  const read = line === '' ? 'no MSH' : readDelimiters(line);
  const d = typeof read === 'string' ? DEFAULT_DELIMITERS : read;
  const fields = typeof read === 'string' ? [] : line.split(d.field);
  // fields[0] = 'MSH', fields[1] = MSH-2 (MSH-1 is the separator itself), so MSH-n = fields[n - 1].
  const field = (n: number): string => fields[n - 1] ?? '';
  const firstComponent = (value: string): string => value.split(d.component, 1)[0] ?? '';
  return {
    delimiters: d,
    encoding: typeof read === 'string' ? FALLBACK_ENCODING : field(2),
    sendingApplication: field(3),
    sendingFacility: field(4),
    receivingApplication: field(5),
    receivingFacility: field(6),
    event: field(9).split(d.component)[1] ?? '',
    controlId: firstComponent(field(10)),
    processingId: field(11),
    version: firstComponent(field(12)),
    acceptAckType: firstComponent(field(15)).trim().toUpperCase(),
    applicationAckType: firstComponent(field(16)).trim().toUpperCase(),
  };
}

/** HL7 table 0155, the values of MSH-15 and MSH-16. */
const ACK_TYPES = new Set(['AL', 'NE', 'ER', 'SU']);

/**
 * True when MSH-15 or MSH-16 asks for enhanced acknowledgement mode: only a table 0155 value counts, so a header
 * whose next segment was glued onto it (`…|2.3||| EVN|A01…`) is still answered in original mode.
 */
export function isEnhancedMode(header: AckHeader): boolean {
  return ACK_TYPES.has(header.acceptAckType) || ACK_TYPES.has(header.applicationAckType);
}

/** The accept outcome of one message before it is put in ACK words. */
export type AckOutcome = 'accept' | 'error' | 'reject';

/** The MSA-1 code for an outcome in the header's mode. */
export function ackCodeFor(header: AckHeader, outcome: AckOutcome): AckCode {
  const enhanced = isEnhancedMode(header);
  if (outcome === 'accept') return enhanced ? 'CA' : 'AA';
  if (outcome === 'error') return enhanced ? 'CE' : 'AE';
  return enhanced ? 'CR' : 'AR';
}

/**
 * Whether an accept acknowledgement is sent at all. Original mode: always. Enhanced mode by MSH-15: AL (or
 * empty) always, NE never, ER only for CE/CR, SU only for CA.
 */
export function shouldSendAck(header: AckHeader, code: AckCode): boolean {
  if (!isEnhancedMode(header)) return true;
  switch (header.acceptAckType) {
    case 'NE':
      return false;
    case 'ER':
      return code !== 'CA';
    case 'SU':
      return code === 'CA';
    default:
      return true;
  }
}

export interface AckProblem {
  readonly code: Hl7ErrorCode;
  /** One line, no patient data. */
  readonly text: string;
}

export interface BuildAckOptions {
  readonly code: AckCode;
  /** The ACK's own MSH-10. */
  readonly ackControlId: string;
  readonly at: Date;
  readonly problem?: AckProblem;
}

/** The ACK message, segments joined by `\r` (no MLLP framing). */
export function buildAck(header: AckHeader, options: BuildAckOptions): string {
  const d = header.delimiters;
  const f = d.field;
  const escape = (text: string): string => escapeText(text, d);
  const version = header.version;
  const msh = [
    'MSH',
    header.encoding,
    header.receivingApplication,
    header.receivingFacility,
    header.sendingApplication,
    header.sendingFacility,
    hl7Timestamp(options.at),
    '',
    header.event === '' ? 'ACK' : ['ACK', escape(header.event), 'ACK'].join(d.component),
    escape(options.ackControlId),
    header.processingId === '' ? 'P' : header.processingId,
    version === '' ? '2.5.1' : version,
  ].join(f);
  const problem = options.problem;
  const msa = ['MSA', options.code, escape(header.controlId), ...(problem === undefined ? [] : [escape(problem.text)])].join(f);
  if (problem === undefined) return `${msh}\r${msa}`;
  return `${msh}\r${msa}\r${errSegment(problem, version, d)}`;
}

/** ERR: v2.5+ puts the code in ERR-3 (CWE), severity E in ERR-4 and the words in ERR-8; older versions use ERR-1. */
function errSegment(problem: AckProblem, version: string, d: Hl7Delimiters): string {
  const text = escapeText(problem.text, d);
  const codeText = ERROR_TEXT[problem.code];
  if (versionAtLeast(version, 2, 5)) {
    const cwe = [problem.code, codeText, 'HL70357'].join(d.component);
    return ['ERR', '', '', cwe, 'E', '', '', '', text].join(d.field);
  }
  // v2.3/2.4 ERR-1 (CM_ELD): segment^sequence^field^code&text&HL70357 — no location known.
  return ['ERR', ['', '', '', [problem.code, codeText, 'HL70357'].join(d.subcomponent)].join(d.component)].join(d.field);
}

function versionAtLeast(version: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (m === null) return true;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > major || (maj === major && min >= minor);
}

/** Escapes the delimiters and the escape character in free text (v2.5 §2.7.4), and folds line breaks. */
export function escapeText(text: string, d: Hl7Delimiters): string {
  let out = '';
  for (const ch of text.replace(/[\r\n]+/g, ' ')) {
    if (ch === d.escape) out += `${d.escape}E${d.escape}`;
    else if (ch === d.field) out += `${d.escape}F${d.escape}`;
    else if (ch === d.component) out += `${d.escape}S${d.escape}`;
    else if (ch === d.repetition) out += `${d.escape}R${d.escape}`;
    else if (ch === d.subcomponent) out += `${d.escape}T${d.escape}`;
    else out += ch;
  }
  return out;
}

let cachedSecond = -1;
let cachedStamp = '';

/** HL7 TS in UTC with its offset: `20261123173400+0000` (formatted once per second). */
export function hl7Timestamp(at: Date): string {
  const second = Math.floor(at.getTime() / 1000);
  if (second !== cachedSecond) {
    const iso = at.toISOString();
    cachedStamp = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}+0000`;
    cachedSecond = second;
  }
  return cachedStamp;
}
