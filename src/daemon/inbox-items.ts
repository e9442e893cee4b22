import { hashKey } from '../../connectors/hl7v2/acceptance';
import { parseHl7, splitHl7 } from '../core/hl7/message';
import { detectFormat } from '../explain/run-inputs';
import type { NewInboxItem } from '../store/inbox';

/**
 * What `portal-bridge ingest` stores for the text of one file (DESIGN §6), without judging it as the MLLP and
 * file-drop connectors do (the ingest worker rejects what cannot be mapped): HL7 v2 — one inbox row per message
 * (split like a feed: batches, CR/LF/CRLF, a BOM), the dedupe key its MSH-10, else a hash of its text; FHIR JSON — one row for the file, the dedupe key a hash.
 * A message that cannot be parsed is stored too: the ingest worker rejects it with the reason (nothing is
 * dropped). Empty when the text holds nothing.
 */
export function inboxItemsFromText(text: string, source: string): NewInboxItem[] {
  if (detectFormat(text) === 'fhir') return [{ source, dedupeKey: hashKey(text), format: 'fhir', raw: text }];
  return splitHl7(text).map((message) => {
    const controlId = message.problem === undefined ? controlIdOf(message.text) : '';
    return {
      source,
      dedupeKey: controlId === '' ? hashKey(message.text) : controlId,
      format: 'hl7v2' as const,
      raw: message.text,
      ...(controlId !== '' && { controlId }),
    };
  });
}

function controlIdOf(text: string): string {
  try {
    return parseHl7(text).controlId;
  } catch {
    return '';
  }
}
