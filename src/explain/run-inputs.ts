import { fhirToSnapshot } from '../../connectors/fhir/to-snapshot';
import { hl7ToSnapshot } from '../../connectors/hl7v2/to-snapshot';
import { parseHl7, splitHl7 } from '../core/hl7/message';
import type { Mapping } from '../core/mapping/types';
import { SnapshotBuilder } from '../core/snapshot';
import { BridgeError, isBridgeError } from '../errors';

/** One input file's text, as read by the caller. */
export interface InputText {
  readonly file: string;
  readonly text: string;
}

/** What became of one message (HL7) or resource (FHIR) of an input file. */
export interface InputOutcome {
  readonly file: string;
  /** Position of the message or resource within its file, from 0. */
  readonly index: number;
  readonly controlId?: string;
  readonly event?: string;
  readonly status: 'accepted' | 'rejected';
  /** One line, no patient data. */
  readonly error?: string;
  readonly errorCode?: string;
  readonly warnings: readonly string[];
  /** `stale` when the snapshot already held newer data for everything the input carried. */
  readonly applied: boolean;
}

export type InputFormat = 'hl7v2' | 'fhir';

/** JSON (after an optional BOM and white space) is FHIR; anything else is taken for HL7 v2. */
export function detectFormat(text: string): InputFormat {
  return /^\uFEFF?\s*[{[]/.test(text) ? 'fhir' : 'hl7v2';
}

/**
 * Maps every message of every input, in order, into one snapshot (DESIGN §2: the same path the daemon's ingest
 * takes, without the store). A message the mapping rejects is reported, never dropped silently, and does not
 * stop the others. Pure apart from the caller having read the files.
 */
export function runInputs(inputs: readonly InputText[], mapping: Mapping, snapshot = new SnapshotBuilder()): { outcomes: InputOutcome[]; snapshot: SnapshotBuilder } {
  const outcomes: InputOutcome[] = [];
  for (const input of inputs) {
    const format = detectFormat(input.text);
    if (format !== mapping.format) {
      outcomes.push(rejected(input.file, 0, new BridgeError('ERR_INPUT_UNREADABLE', `this is ${label(format)} input but mapping ${mapping.name} is for ${label(mapping.format)}`)));
      continue;
    }
    if (format === 'hl7v2') runHl7(input, mapping, snapshot, outcomes);
    else runFhir(input, mapping, snapshot, outcomes);
  }
  return { outcomes, snapshot };
}

function runHl7(input: InputText, mapping: Mapping, snapshot: SnapshotBuilder, out: InputOutcome[]): void {
  const messages = splitHl7(input.text);
  if (messages.length === 0) out.push(rejected(input.file, 0, new BridgeError('ERR_HL7_UNPARSEABLE', 'no HL7 message found (a message starts with MSH)')));
  for (const raw of messages) {
    if (raw.problem !== undefined) {
      out.push(rejected(input.file, raw.index, new BridgeError('ERR_HL7_UNPARSEABLE', raw.problem)));
      continue;
    }
    let controlId: string | undefined;
    try {
      const parsed = parseHl7(raw.text);
      controlId = parsed.controlId || undefined;
      const mapped = hl7ToSnapshot(parsed, mapping);
      const applied = mapped.ops.map((op) => snapshot.apply(op)).some((r) => r === 'applied') || mapped.ops.length === 0;
      out.push({ file: input.file, index: raw.index, ...(controlId && { controlId }), ...(mapped.event && { event: mapped.event }), status: 'accepted', warnings: mapped.warnings, applied });
    } catch (e) {
      out.push(rejected(input.file, raw.index, e, controlId));
    }
  }
}

function runFhir(input: InputText, mapping: Mapping, snapshot: SnapshotBuilder, out: InputOutcome[]): void {
  let json: unknown;
  try {
    json = JSON.parse(input.text.replace(/^\uFEFF/, ''));
  } catch (e) {
    out.push(rejected(input.file, 0, new BridgeError('ERR_FHIR_UNPARSEABLE', `not valid JSON: ${e instanceof Error ? e.message : String(e)}`)));
    return;
  }
  try {
    fhirToSnapshot(json, mapping).forEach((entry, index) => {
      if ('error' in entry && entry.error !== undefined) {
        out.push(rejected(input.file, index, entry.error, entry.controlId));
        return;
      }
      const mapped = entry;
      const applied = mapped.ops.map((op) => snapshot.apply(op)).some((r) => r === 'applied') || mapped.ops.length === 0;
      out.push({ file: input.file, index, ...(mapped.controlId && { controlId: mapped.controlId }), ...(mapped.event && { event: mapped.event }), status: 'accepted', warnings: mapped.warnings, applied });
    });
  } catch (e) {
    out.push(rejected(input.file, 0, e));
  }
}

function rejected(file: string, index: number, e: unknown, controlId?: string): InputOutcome {
  const error = isBridgeError(e) ? e.message : `unexpected error: ${e instanceof Error ? e.message : String(e)}`;
  return {
    file,
    index,
    ...(controlId && { controlId }),
    status: 'rejected',
    error: error.split('\n')[0] ?? error,
    errorCode: isBridgeError(e) ? e.code : 'ERR_INTERNAL',
    warnings: [],
    applied: false,
  };
}

function label(format: InputFormat): string {
  return format === 'hl7v2' ? 'HL7 v2' : 'FHIR';
}
