/**
 * What an HL7 v2 channel answers to one message before it is stored (issue #4, DESIGN §6), shared by the MLLP
 * listener and the file drop. Pure: the mapping decides, nothing is read or written.
 *
 * - `reject` (AR / CR): the channel does not take this kind of message — a message type the mapping neither
 *   handles nor ignores (`unknownEvents: reject`), or a processing id (MSH-11) the channel is not configured for.
 * - `error` (AE / CE): the message cannot be parsed or mapped (no MSH, broken delimiters, no patient id …).
 * - `accept` (AA / CA): it maps; the ingest worker applies it.
 * Every outcome is stored (rejected ones with the reason); only the ACK code differs.
 */
import { isUtf8 } from 'node:buffer';
import { splitHl7 } from '../../src/core/hl7/message';
import type { Mapping } from '../../src/core/mapping/types';
import { BridgeError, isBridgeError, type ErrorCode } from '../../src/errors';
import { translateHl7Messages } from '../../src/ingest/translate-input';
import type { NewInboxItem } from '../../src/store/inbox';
import { hashKey } from '../dedupe-key';

export { hashKey } from '../dedupe-key';
import { HL7_ERROR, readAckHeader, type AckHeader, type AckOutcome, type AckProblem } from './ack';

const MAX_CONTROL_ID = 199;

export interface ChannelRules {
  readonly mapping: Mapping;
  /** MSH-11.1 values taken (P production, T training, D debugging); undefined takes any. */
  readonly processingIds?: readonly string[];
}

export interface Verdict {
  readonly outcome: AckOutcome;
  readonly header: AckHeader;
  /**
   * Accepted: MSH-10 (a retransmission on the same channel has the same key), else `sha256:<hex>` of the text.
   * Anything else: the hash.
   */
  readonly dedupeKey: string;
  /** Set unless the outcome is accept. */
  readonly errorCode?: ErrorCode;
  readonly problem?: AckProblem;
}

/** Judges one message's text (one MLLP frame or one message of a file). */
export function judgeMessage(text: string, rules: ChannelRules): Verdict {
  const header = readAckHeader(text);
  // A message the channel refuses is keyed by its text, so that it never shadows a good retransmission with the
  // same MSH-10 (a frame cut short, then sent again whole); the same bad bytes again are still a duplicate.
  const refuse = (outcome: AckOutcome, errorCode: ErrorCode, code: AckProblem['code'], words: string): Verdict => ({
    header,
    dedupeKey: hashKey(text),
    outcome,
    errorCode,
    problem: { code, text: words },
  });

  if (text.includes('\u0000')) return refuse('error', 'ERR_HL7_UNPARSEABLE', HL7_ERROR.dataTypeError, 'the message holds NUL bytes: it is not HL7 text');
  const messages = splitHl7(text);
  const first = messages[0];
  if (first === undefined) return refuse('error', 'ERR_HL7_UNPARSEABLE', HL7_ERROR.dataTypeError, 'no HL7 message found (a message starts with MSH)');
  if (first.problem !== undefined) return refuse('error', 'ERR_HL7_UNPARSEABLE', HL7_ERROR.dataTypeError, first.problem);

  const allowed = rules.processingIds;
  const processingId = (header.processingId.split(header.delimiters.component, 1)[0] ?? '').trim().toUpperCase();
  if (allowed !== undefined && !allowed.includes(processingId)) {
    return refuse(
      'reject',
      'ERR_HL7_PROCESSING_ID',
      HL7_ERROR.unsupportedProcessingId,
      `processing id (MSH-11) ${processingId === '' ? '(empty)' : processingId} is not accepted on this channel (accepted: ${allowed.join(', ')})`,
    );
  }
  try {
    translateHl7Messages(messages, rules.mapping);
  } catch (e) {
    if (!isBridgeError(e)) throw e;
    return refuseFor(e, { header, dedupeKey: hashKey(text) });
  }
  const controlId = header.controlId.trim();
  if (controlId === '') return { header, dedupeKey: hashKey(text), outcome: 'accept' };
  // MSH-10 is at most 199 characters (v2.5+); a longer one is keyed by its hash, which still catches retransmissions.
  return { header, dedupeKey: controlId.length <= MAX_CONTROL_ID ? controlId : hashKey(`MSH-10:${controlId}`), outcome: 'accept' };
}

function refuseFor(e: BridgeError, base: Pick<Verdict, 'header' | 'dedupeKey'>): Verdict {
  switch (e.code) {
    case 'ERR_MAPPING_UNSUPPORTED_EVENT':
      return { ...base, outcome: 'reject', errorCode: e.code, problem: { code: HL7_ERROR.unsupportedMessageType, text: e.message } };
    case 'ERR_MAPPING_MISSING_FIELD':
      return { ...base, outcome: 'error', errorCode: e.code, problem: { code: HL7_ERROR.requiredFieldMissing, text: e.message } };
    case 'ERR_HL7_UNPARSEABLE':
      return { ...base, outcome: 'error', errorCode: e.code, problem: { code: HL7_ERROR.dataTypeError, text: e.message } };
    default:
      return { ...base, outcome: 'error', errorCode: e.code, problem: { code: HL7_ERROR.internalError, text: e.message } };
  }
}

/** Judges like judgeMessage, but never throws: a bug while judging stores the message as rejected (ERR_INTERNAL). */
export function judgeSafely(text: string, rules: ChannelRules, onBug: (e: unknown) => void): Verdict {
  try {
    return judgeMessage(text, rules);
  } catch (e) {
    onBug(e);
    return {
      outcome: 'error',
      header: readAckHeader(text),
      dedupeKey: hashKey(text),
      errorCode: 'ERR_INTERNAL',
      problem: { code: HL7_ERROR.internalError, text: 'internal error while reading the message; it is kept for support' },
    };
  }
}

/** The inbox row for a judged message: `received`, or `rejected` with the verdict's code and reason. */
export function inboxItemFor(verdict: Verdict, text: string, source: string, at: Date, ack?: string): NewInboxItem {
  const controlId = verdict.header.controlId.trim();
  return {
    source,
    dedupeKey: verdict.dedupeKey,
    format: 'hl7v2',
    raw: text,
    receivedAt: at,
    ...(ack !== undefined && { ack }),
    ...(controlId !== '' && { controlId }),
    ...(verdict.outcome !== 'accept' && { status: 'rejected' as const, errorCode: verdict.errorCode, error: verdict.problem?.text }),
  };
}

/** Bytes → text: UTF-8, or Latin-1 when configured or when the bytes are not valid UTF-8 (every byte kept). */
export function decodeText(bytes: Buffer, encoding: 'utf-8' | 'latin1'): string {
  if (encoding === 'latin1' || !isUtf8(bytes)) return bytes.toString('latin1');
  return bytes.toString('utf8');
}
