import { BridgeError } from '../../errors';
import { decodeEscapes, type Hl7Delimiters } from './escapes';

export type { Hl7Delimiters } from './escapes';

/**
 * HL7 v2 text → messages (DESIGN §2: the ingest step before mapping). Pure.
 *
 * Parsing is lazy: a segment is split into fields only when a path first reads it, and a value is escape-decoded
 * only when it holds the escape character — the daemon maps tens of thousands of messages per second on one
 * core and reads a handful of fields from each.
 */

/** One message cut out of a file or stream. `problem` (one line, no patient data) is set when it cannot be parsed. */
export interface RawHl7 {
  /** Position within the input, from 0 (problem chunks count too). */
  readonly index: number;
  /** The message's segments joined by `\r` (BOM, blank lines and trailing white space removed). */
  readonly text: string;
  readonly problem?: string;
}

/** The HL7 explicit null (`""`): "delete this value". Reads as empty. */
export const HL7_NULL = '""';

const ENVELOPE = new Set(['FHS', 'BHS', 'BTS', 'FTS']);
const SEGMENT_NAME = /^[A-Z][A-Z0-9]{2}$/;
const LINE_BREAK = /\r\n|\r|\n/;

/**
 * Splits the text of a file or stream into messages: accepts a UTF-8 BOM, CR / LF / CRLF terminators, blank
 * and white-space lines, trailing spaces, MLLP framing bytes and FHS/BHS/BTS/FTS batch envelopes (with or
 * without trailers; envelope segments are dropped), and starts a message at each MSH. Text that cannot become a
 * message (no MSH, broken delimiters, a line that is not a segment, segments glued together with spaces) is
 * returned with `problem` set and never guessed at. Never throws.
 */
export function splitHl7(raw: string): RawHl7[] {
  const chunks: string[][] = [];
  let current: string[] | undefined;
  for (const rawLine of lines(raw)) {
    const line = cleanLine(rawLine);
    if (line === '') continue;
    const tag = line.slice(0, 3);
    if (ENVELOPE.has(tag) && isSegmentStart(line, line[3])) continue;
    if (tag === 'MSH' || current === undefined) {
      current = [line];
      chunks.push(current);
    } else {
      current.push(line);
    }
  }
  return chunks.map((segmentLines, index) => {
    const text = segmentLines.join('\r');
    const checked = checkStructure(segmentLines);
    return typeof checked === 'string' ? { index, text, problem: checked } : { index, text };
  });
}

/** One segment, read lazily. Field numbers are the standard ones: MSH-1 is the field separator, MSH-9 the type. */
export class Hl7SegmentView {
  /** The segment id (`PID`, `NK1`, `ZNK`…). */
  readonly name: string;
  private split: readonly string[] | undefined;

  constructor(
    /** The segment's raw text (no terminator). */
    readonly text: string,
    readonly delimiters: Hl7Delimiters,
  ) {
    this.name = text.slice(0, 3);
  }

  private get parts(): readonly string[] {
    return (this.split ??= this.text.split(this.delimiters.field));
  }

  /** The number of the last field present (0 when the segment is only its name). */
  get fieldCount(): number {
    return this.name === 'MSH' ? this.parts.length : this.parts.length - 1;
  }

  /** Field `n`'s raw (undecoded) text, '' when absent. MSH-1 and MSH-2 are the delimiters themselves. */
  rawField(n: number): string {
    if (this.name !== 'MSH') return this.parts[n] ?? '';
    return n === 1 ? this.delimiters.field : (this.parts[n - 1] ?? '');
  }

  /** Field `n`'s repetitions as raw text; [] when the field is empty. */
  repetitions(n: number): readonly string[] {
    const f = this.rawField(n);
    if (f === '') return [];
    return this.isLiteral(n) ? [f] : f.split(this.delimiters.repetition);
  }

  /** The raw text of repetition `rep` (1-based) of field `n`, '' when absent. */
  rawRepetition(n: number, rep = 1): string {
    const f = this.rawField(n);
    return this.isLiteral(n) ? (rep === 1 ? f : '') : piece(f, this.delimiters.repetition, rep);
  }

  /**
   * A leaf value, decoded: field `n`, repetition `rep`, component `comp`, subcomponent `sub` (all 1-based).
   * '' when absent, empty or the explicit null `""`.
   */
  value(n: number, rep = 1, comp = 1, sub = 1): string {
    if (this.isLiteral(n)) return rep === 1 && comp === 1 && sub === 1 ? this.rawField(n) : '';
    return leafValue(this.rawRepetition(n, rep), comp, sub, this.delimiters);
  }

  /** True when the leaf is the explicit null `""` (the sender says "delete"), as opposed to merely empty. */
  isNull(n: number, rep = 1, comp = 1, sub = 1): boolean {
    if (this.isLiteral(n)) return false;
    return rawLeaf(this.rawRepetition(n, rep), comp, sub, this.delimiters) === HL7_NULL;
  }

  /** MSH-1 and MSH-2 hold the delimiters: never split or decoded. */
  private isLiteral(n: number): boolean {
    return n <= 2 && this.name === 'MSH';
  }
}

/** One parsed message. */
export interface ParsedHl7 {
  readonly delimiters: Hl7Delimiters;
  /** `MSH-9.1^MSH-9.2` (`ADT^A04`; `ADT^A08^ADT_A01` gives `ADT^A08`), always joined with `^`. */
  readonly messageType: string;
  /** MSH-10, '' when absent. */
  readonly controlId: string;
  /** MSH-12 (`2.5.1`), '' when absent. */
  readonly version: string;
  /** MSH-7 as sent (HL7 TS), '' when absent. */
  readonly timestamp: string;
  /** Every segment in order, MSH first (batch envelope segments excluded). */
  readonly segments: readonly Hl7SegmentView[];
  /** The first segment with this name. */
  first(name: string): Hl7SegmentView | undefined;
}

class ParsedMessage implements ParsedHl7 {
  private index: Map<string, Hl7SegmentView> | undefined;

  constructor(
    readonly delimiters: Hl7Delimiters,
    readonly messageType: string,
    readonly controlId: string,
    readonly version: string,
    readonly timestamp: string,
    readonly segments: readonly Hl7SegmentView[],
  ) {}

  first(name: string): Hl7SegmentView | undefined {
    if (this.index === undefined) {
      this.index = new Map();
      for (const s of this.segments) if (!this.index.has(s.name)) this.index.set(s.name, s);
    }
    return this.index.get(name);
  }
}

/**
 * Parses one message (as cut by splitHl7, or any text holding exactly one). Delimiters come from MSH-1/MSH-2;
 * the header is read from the MSH segment view (as medplum's `Hl7Message` reads it; the body stays lazy). Throws
 * BridgeError('ERR_HL7_UNPARSEABLE', one-line reason) when there is no MSH, the delimiters are broken or a line
 * is not a segment.
 */
export function parseHl7(text: string): ParsedHl7 {
  const segmentLines: string[] = [];
  for (const rawLine of lines(text)) {
    const line = cleanLine(rawLine);
    if (line === '') continue;
    if (ENVELOPE.has(line.slice(0, 3)) && isSegmentStart(line, line[3])) continue;
    segmentLines.push(line);
  }
  const d = checkStructure(segmentLines);
  if (typeof d === 'string') throw new BridgeError('ERR_HL7_UNPARSEABLE', d);
  const mshCount = segmentLines.reduce((n, l) => (l.startsWith('MSH') ? n + 1 : n), 0);
  if (mshCount > 1) throw new BridgeError('ERR_HL7_UNPARSEABLE', `the text holds ${mshCount} messages (MSH segments): split it first`);
  const segments = segmentLines.map((l) => new Hl7SegmentView(l, d));
  const header = segments[0] as Hl7SegmentView;
  // A header component as medplum's Hl7Message reads it (first repetition, subcomponents kept, trimmed; a test
  // checks the two agree on every public sample) — read here without parsing the message twice.
  const headerValue = (field: number, component: number): string => {
    const v = piece(header.rawRepetition(field), d.component, component).trim();
    return v === HL7_NULL ? '' : decodeEscapes(v, d);
  };
  const event = headerValue(9, 2);
  const messageType = event === '' ? headerValue(9, 1) : `${headerValue(9, 1)}^${event}`;
  return new ParsedMessage(d, messageType, headerValue(10, 1), headerValue(12, 1), headerValue(7, 1), segments);
}

/** The n-th (1-based) piece of `text` split on `sep`, without allocating the other pieces. */
export function piece(text: string, sep: string, n: number): string {
  let start = 0;
  for (let i = 1; i < n; i++) {
    const at = text.indexOf(sep, start);
    if (at < 0) return '';
    start = at + 1;
  }
  const end = text.indexOf(sep, start);
  return end < 0 ? text.slice(start) : text.slice(start, end);
}

/** Component `comp`, subcomponent `sub` of one raw repetition, undecoded. */
export function rawLeaf(repetition: string, comp: number, sub: number, d: Hl7Delimiters): string {
  if (repetition === '') return '';
  return piece(piece(repetition, d.component, comp), d.subcomponent, sub);
}

/** Component `comp`, subcomponent `sub` of one raw repetition, decoded; '' for empty or `""`. */
export function leafValue(repetition: string, comp: number, sub: number, d: Hl7Delimiters): string {
  const raw = rawLeaf(repetition, comp, sub, d);
  if (raw === '' || raw === HL7_NULL) return '';
  return decodeEscapes(raw, d);
}

/** Delimiters from an MSH line, or a one-line problem. */
export function readDelimiters(msh: string): Hl7Delimiters | string {
  const field = msh[3];
  if (field === undefined || !/^[\x21-\x7e]$/.test(field) || /[A-Za-z0-9]/.test(field)) return 'MSH-1 (the field separator) is missing or is not a delimiter character';
  const end = msh.indexOf(field, 4);
  const encoding = end < 0 ? msh.slice(4) : msh.slice(4, end);
  if (encoding.length < 4 || encoding.length > 5) {
    return `MSH-2 must hold 4 encoding characters (component, repetition, escape, subcomponent), found ${encoding.length}`;
  }
  const chars = [field, ...encoding];
  if (new Set(chars).size !== chars.length || chars.some((c) => !/^[\x21-\x7e]$/.test(c) || /[A-Za-z0-9]/.test(c))) {
    return 'MSH-1/MSH-2 delimiters must be distinct printable ASCII characters that are not letters or digits';
  }
  const [component = '', repetition = '', escape = '', subcomponent = '', truncation] = [...encoding];
  return { field, component, repetition, escape, subcomponent, ...(truncation !== undefined && { truncation }) };
}

/** The delimiters of these lines (one message, envelope removed), or why they are not a parseable message. */
function checkStructure(lines: readonly string[]): Hl7Delimiters | string {
  const msh = lines[0];
  if (msh === undefined || !msh.startsWith('MSH')) return 'no MSH segment: this text is not an HL7 v2 message';
  const d = readDelimiters(msh);
  if (typeof d === 'string') return d;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (!isSegmentStart(line, d.field)) return `segment #${i + 1} does not start with a segment name and the field separator`;
    const glued = gluedSegment(line, d.field);
    if (glued !== undefined) {
      return `segments are joined by spaces on one line (segment terminators lost): ${glued} inside segment #${i + 1} (${line.slice(0, 3)})`;
    }
  }
  return d;
}

/** A segment name glued after a space inside `line` (` PID|`): looks after each space for a name and the separator. */
function gluedSegment(line: string, field: string): string | undefined {
  const fs = field.charCodeAt(0);
  for (let at = line.indexOf(' ', 4); at >= 0 && at + 4 < line.length; at = line.indexOf(' ', at + 1)) {
    if (line.charCodeAt(at + 4) !== fs) continue;
    const name = line.slice(at + 1, at + 4);
    if (GLUED_NAMES.has(name) || (name[0] === 'Z' && SEGMENT_NAME.test(name))) return name;
  }
  return undefined;
}

function isSegmentStart(line: string, field: string | undefined): boolean {
  return SEGMENT_NAME.test(line.slice(0, 3)) && (line.length === 3 || line[3] === field);
}

function lines(text: string): string[] {
  if (!text.includes('\n')) return text.split('\r');
  if (!text.includes('\r')) return text.split('\n');
  return text.split(LINE_BREAK);
}

/** BOM (also mid-stream, from concatenated files), MLLP framing bytes and surrounding white space removed. */
function cleanLine(line: string): string {
  let start = 0;
  let end = line.length;
  while (start < end && isPadding(line.charCodeAt(start))) start++;
  while (end > start && isPadding(line.charCodeAt(end - 1))) end--;
  return start === 0 && end === line.length ? line : line.slice(start, end);
}

/** Control characters (MLLP's 0x0B / 0x1C included), spaces, no-break space, BOM. */
function isPadding(c: number): boolean {
  return c <= 32 || c === 0xa0 || c === 0xfeff;
}

/**
 * Segments seen glued to the end of another segment (` PID|`), for detection only. Z-segments count too. Words
 * that are also segment ids but common in free text (ADD, CON, REL, LOC…) are left out to avoid false alarms.
 */
const GLUED_NAMES = new Set(
  (
    'MSH EVN PID PD1 PV1 PV2 NK1 NTE OBR OBX ORC GT1 IN1 IN2 IN3 DG1 PR1 AL1 MRG SCH TQ1 TQ2 RGS AIS AIG AIL AIP ' +
    'SPM SFT ROL ARV DB1 UB1 UB2 PDA RF1 PRT RXA RXR RXO RXE RXD RXC RXG MSA QRD QRF FT1 ACC DRG IAM OM1 FHS BHS BTS FTS'
  ).split(' '),
);
