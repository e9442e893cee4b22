/**
 * HL7 v2 escape sequences (v2.5 §2.7). Values are split on the raw delimiters first and decoded per leaf
 * (component or subcomponent) afterwards, so an escaped delimiter never splits a value. Pure.
 */

/** The delimiters of one message, read from MSH-1 and MSH-2. */
export interface Hl7Delimiters {
  readonly field: string;
  readonly component: string;
  readonly repetition: string;
  readonly escape: string;
  readonly subcomponent: string;
  /** v2.7+ truncation character (5th MSH-2 character), when the sender gives one. */
  readonly truncation?: string;
}

/** The standard delimiters `|^~\&`. */
export const DEFAULT_DELIMITERS: Hl7Delimiters = Object.freeze({ field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' });

const HEX = /^X(?:[0-9A-Fa-f]{2})+$/;
const CHARSET_SWITCH = /^(?:C[0-9A-Fa-f]{4}|M[0-9A-Fa-f]{4}(?:[0-9A-Fa-f]{2})?)$/;
const FORMATTING = /^\.[a-z]{2}[+-]?\d*$/;

/**
 * Decodes `\F\ \S\ \T\ \R\ \E\ \Xhh..\` with the message's own delimiters and escape character, and drops the
 * formatting and highlighting commands (`\.br\`, `\H\`, `\N\`, charset switches `\Cxxyy\`/`\Mxxyyzz\`).
 * An escape character that does not start a well-formed sequence (lone, unterminated, unknown content) is kept
 * literally: senders put raw backslashes in free text. Returns `text` itself when it holds no escape character.
 */
export function decodeEscapes(text: string, d: Hl7Delimiters): string {
  const esc = d.escape;
  let start = text.indexOf(esc);
  if (start < 0) return text;
  let out = '';
  let copied = 0;
  while (start >= 0) {
    const end = text.indexOf(esc, start + 1);
    if (end < 0) break;
    const replacement = sequence(text.slice(start + 1, end), d);
    if (replacement === undefined) {
      // Not a sequence: keep this escape character as text and look for the next one.
      start = text.indexOf(esc, start + 1);
      continue;
    }
    out += text.slice(copied, start) + replacement;
    copied = end + 1;
    start = text.indexOf(esc, copied);
  }
  return out + text.slice(copied);
}

/** The text a sequence stands for ('' for dropped commands), or undefined when `body` is not a sequence. */
function sequence(body: string, d: Hl7Delimiters): string | undefined {
  switch (body) {
    case 'F':
      return d.field;
    case 'S':
      return d.component;
    case 'T':
      return d.subcomponent;
    case 'R':
      return d.repetition;
    case 'E':
      return d.escape;
    case 'H':
    case 'N':
      return '';
    default:
      if (HEX.test(body)) return fromHex(body.slice(1));
      if (FORMATTING.test(body) || CHARSET_SWITCH.test(body)) return '';
      return undefined;
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });
const LATIN1 = new TextDecoder('latin1');

/** `\Xhh..\`: bytes in the message's character set; UTF-8 when they form valid UTF-8, else ISO 8859-1. */
function fromHex(hex: string): string {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  try {
    return UTF8.decode(bytes);
  } catch {
    return LATIN1.decode(bytes);
  }
}
