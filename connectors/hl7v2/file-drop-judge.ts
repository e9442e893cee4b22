/**
 * The file drop's pure part: a file's text → its messages judged (acceptance.ts) with the line each starts at,
 * and the reason file written beside a file moved to error/. No patient data in the reason file: acceptance.ts's
 * reasons are PHI-free, and messages are named by position, line and MSH-10.
 */
import { splitHl7, type RawHl7 } from '../../src/core/hl7/message';
import type { Logger } from '../../src/log';
import type { AcceptResult, NewInboxItem } from '../../src/store';
import { ackCodeFor } from './ack';
import { inboxItemFor, judgeSafely, type ChannelRules, type Verdict } from './acceptance';

/** A message of a file as judged: where it starts, and its row. */
export interface Judged {
  /** The file's line where the message starts (1-based). */
  readonly line: number | undefined;
  /** True for the one row of a file that holds no message at all. */
  readonly wholeFile: boolean;
  readonly verdict: Verdict;
  readonly item: NewInboxItem;
}

export interface Counts {
  accepted: number;
  rejected: number;
  duplicate: number;
}

/**
 * Every message of a file, judged, with its row. A file without any message (empty, binary, not HL7) is one
 * rejected row holding the whole text, so that nothing is lost.
 */
export function judgeFile(text: string, source: string, rules: ChannelRules, at: Date, log: Logger): Judged[] {
  const messages = splitHl7(text);
  if (!messages.some((m) => m.text.startsWith('MSH'))) return [{ line: 1, wholeFile: true, ...judgeOne(text, source, rules, at, log) }];
  const lines = startLines(text, messages);
  return messages.map((m, i) => ({ line: lines[i], wholeFile: false, ...judgeOne(m.text, source, rules, at, log) }));
}

function judgeOne(text: string, source: string, rules: ChannelRules, at: Date, log: Logger): Pick<Judged, 'verdict' | 'item'> {
  const verdict = judgeSafely(text, rules, (e) => log.error('judging a message failed: stored as rejected', { error: e }));
  return { verdict, item: inboxItemFor(verdict, text, source, at) };
}

/**
 * The 1-based line of the file at which each message starts (lines end at CR, LF or CRLF, as splitHl7 cuts
 * them): the first line, from the previous message's start on, that is the message's first segment once its
 * padding is trimmed.
 */
function startLines(text: string, messages: readonly RawHl7[]): (number | undefined)[] {
  const lines = text.split(/\r\n|\r|\n/);
  let at = 0;
  return messages.map((m) => {
    const first = m.text.split('\r', 1)[0] ?? '';
    let i = at;
    while (i < lines.length && trimPadding(lines[i] ?? '') !== first) i++;
    if (i >= lines.length) return undefined;
    at = i + 1;
    return i + 1;
  });
}

/** What splitHl7 trims from a line: control characters, spaces, no-break space, BOM. */
function trimPadding(line: string): string {
  const pad = (c: number): boolean => c <= 32 || c === 0xa0 || c === 0xfeff;
  let start = 0;
  let end = line.length;
  while (start < end && pad(line.charCodeAt(start))) start++;
  while (end > start && pad(line.charCodeAt(end - 1))) end--;
  return line.slice(start, end);
}

/** The reason file: one line per message not accepted; no patient data (acceptance.ts's reasons are PHI-free). */
export function reasonText(file: string, channel: string, at: Date, judged: readonly Judged[], results: readonly AcceptResult[], counts: Counts): string {
  const n = judged.length;
  const out = [
    `File: ${file}`,
    `Channel: ${channel}`,
    `Stored: ${at.toISOString()}`,
    `Messages: ${n} (accepted ${counts.accepted}, rejected ${counts.rejected}, duplicate ${counts.duplicate})`,
    '',
    'Not accepted:',
  ];
  judged.forEach((j, i) => {
    if (j.verdict.outcome === 'accept') return;
    const where = j.wholeFile ? 'the file holds no HL7 message' : `message ${i + 1} of ${n}`;
    const line = j.line === undefined ? 'line unknown' : `line ${j.line}`;
    const controlId = j.item.controlId === undefined ? '(none)' : j.item.controlId;
    const ack = ackCodeFor(j.verdict.header, j.verdict.outcome);
    const result = results[i];
    const stored = result === undefined ? '' : result.duplicate ? ` (already stored as inbox:${result.id})` : ` (inbox:${result.id})`;
    out.push(`- ${where}, ${line}, MSH-10 ${controlId}: ${ack} ${j.verdict.errorCode ?? 'ERR_INTERNAL'}: ${j.verdict.problem?.text ?? ''}${stored}`);
  });
  out.push(
    '',
    'Every message of this file is in the inbox, the ones above as rejected with their reason.',
    'See them with `portal-bridge failures list` / `failures show inbox:<id>`; after fixing the mapping,',
    '`portal-bridge replay inbox:<id>` maps them again. To send a corrected file, drop it with new MSH-10s.',
    '',
  );
  return out.join('\n');
}
