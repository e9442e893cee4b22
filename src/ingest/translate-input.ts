import { fhirToSnapshot, isRejected } from '../../connectors/fhir/to-snapshot';
import { hl7ToSnapshot } from '../../connectors/hl7v2/to-snapshot';
import { parseHl7, splitHl7, type RawHl7 } from '../core/hl7/message';
import type { Mapping } from '../core/mapping/types';
import type { SnapshotOp } from '../core/model';
import { BridgeError } from '../errors';

/** The mappings in force, by input format. A format without one is rejected with a reason. */
export interface Mappings {
  readonly hl7v2?: Mapping;
  readonly fhir?: Mapping;
}

/** What one stored input says should change. */
export interface TranslatedInput {
  readonly ops: readonly SnapshotOp[];
  /** Words without patient data (dropped values, rejected entries of a bundle). */
  readonly warnings: readonly string[];
  /** True when the mapping accepted the input but it changes nothing (A03, an ignored type). */
  readonly ignored: boolean;
}

/**
 * Translates one inbox row's raw text with the mapping of its format (the connectors' pure to-snapshot). An HL7
 * row normally holds one message; several are applied in order. A FHIR bundle whose entries are partly bad is
 * accepted for the good ones, with the bad ones named in the warnings. Throws a BridgeError (one line, no
 * patient data) when the input as a whole is rejected.
 */
export function translateInput(format: 'hl7v2' | 'fhir', raw: string, mappings: Mappings): TranslatedInput {
  const mapping = mappings[format];
  if (mapping === undefined) throw new BridgeError('ERR_INPUT_UNREADABLE', `no ${format === 'hl7v2' ? 'HL7 v2' : 'FHIR'} mapping is configured`);
  return format === 'hl7v2' ? translateHl7(raw, mapping) : translateFhir(raw, mapping);
}

function translateHl7(raw: string, mapping: Mapping): TranslatedInput {
  return translateHl7Messages(splitHl7(raw), mapping);
}

/** translateInput for HL7 text already split by splitHl7 (the MLLP listener splits once to judge a frame). */
export function translateHl7Messages(messages: readonly RawHl7[], mapping: Mapping): TranslatedInput {
  if (messages.length === 0) throw new BridgeError('ERR_HL7_UNPARSEABLE', 'no HL7 message found (a message starts with MSH)');
  const ops: SnapshotOp[] = [];
  const warnings: string[] = [];
  for (const message of messages) {
    if (message.problem !== undefined) throw new BridgeError('ERR_HL7_UNPARSEABLE', message.problem);
    const mapped = hl7ToSnapshot(parseHl7(message.text), mapping);
    ops.push(...mapped.ops);
    warnings.push(...mapped.warnings);
  }
  return { ops, warnings, ignored: ops.length === 0 };
}

function translateFhir(raw: string, mapping: Mapping): TranslatedInput {
  let json: unknown;
  try {
    json = JSON.parse(raw.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new BridgeError('ERR_FHIR_UNPARSEABLE', `not valid JSON: ${e instanceof Error ? (e.message.split('\n')[0] ?? '') : ''}`);
  }
  const entries = fhirToSnapshot(json, mapping);
  const good = entries.filter((e) => !isRejected(e));
  const bad = entries.filter(isRejected);
  if (good.length === 0 && bad[0] !== undefined) throw bad[0].error;
  const ops = good.flatMap((e) => e.ops);
  const warnings = [...good.flatMap((e) => e.warnings), ...bad.map((b) => `${b.controlId} rejected: ${b.error.message}`)];
  return { ops, warnings, ignored: ops.length === 0 };
}
