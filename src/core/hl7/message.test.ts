import { readPublicFixtures } from '../../../test/helpers/fixtures';
import { Hl7Message } from '@medplum/core';
import { BridgeError } from '../../errors';
import { parseHl7, piece, readDelimiters, splitHl7 } from './message';

const MSH = 'MSH|^~\\&|EHR|FAC|PORTAL|BRIDGE|20240301101500||ADT^A04^ADT_A01|C-1|P|2.5.1';
const PID = 'PID|1||MRN1^^^FAC^MR||DOE^JANE';

describe('splitHl7', () => {
  test.each([
    ['CR', '\r'],
    ['LF', '\n'],
    ['CRLF', '\r\n'],
  ])('%s terminators', (_label, eol) => {
    const msgs = splitHl7([MSH, 'EVN|A04', PID].join(eol) + eol);
    expect(msgs).toEqual([{ index: 0, text: [MSH, 'EVN|A04', PID].join('\r') }]);
  });

  test('BOM, blank lines, white-space lines and trailing spaces are removed', () => {
    const msgs = splitHl7(`\uFEFF${MSH} \r\n\r\nEVN|A04  \r\n   \r\n${PID}\r\n \r\n`);
    expect(msgs).toEqual([{ index: 0, text: `${MSH}\rEVN|A04\r${PID}` }]);
  });

  test('several messages: a message starts at each MSH', () => {
    const msgs = splitHl7(`${MSH}\n${PID}\n${MSH.replace('C-1', 'C-2')}\n${PID}\n`);
    expect(msgs.map((m) => m.index)).toEqual([0, 1]);
    expect(msgs[1]?.text).toContain('C-2');
    expect(msgs.every((m) => m.problem === undefined)).toBe(true);
  });

  test('batch envelopes are dropped, with or without trailers', () => {
    const withTrailers = splitHl7(['FHS|^~\\&|X', 'BHS|^~\\&|X', MSH, PID, MSH, PID, 'BTS|2', 'FTS|1'].join('\r'));
    expect(withTrailers).toHaveLength(2);
    expect(withTrailers.every((m) => m.text.startsWith('MSH') && !m.text.includes('BTS') && m.problem === undefined)).toBe(true);
    const noTrailers = splitHl7(['FHS|^~\\&|X', 'BHS|^~\\&|X', MSH, PID].join('\n'));
    expect(noTrailers).toEqual([{ index: 0, text: `${MSH}\r${PID}` }]);
  });

  test('MLLP framing bytes are stripped', () => {
    expect(splitHl7(`\x0b${MSH}\r${PID}\r\x1c\r`)).toEqual([{ index: 0, text: `${MSH}\r${PID}` }]);
  });

  test('empty input gives no messages', () => {
    expect(splitHl7('')).toEqual([]);
    expect(splitHl7(' \r\n\n')).toEqual([]);
  });

  test('text without MSH is reported, not guessed at', () => {
    const msgs = splitHl7('hello world\nthis is not hl7\n');
    expect(msgs).toHaveLength(1);
    expect(msgs[0]?.problem).toBe('no MSH segment: this text is not an HL7 v2 message');
  });

  test('garbage before the first MSH is its own problem chunk; the message after it is fine', () => {
    const msgs = splitHl7(`# exported log\n${MSH}\n${PID}\n`);
    expect(msgs.map((m) => [m.index, m.problem === undefined])).toEqual([
      [0, false],
      [1, true],
    ]);
  });

  test('segments glued together with spaces are detected and reported on one line', () => {
    const [m] = splitHl7(`${MSH}||| EVN|A01|20050110045502||||| ${PID}\n`);
    expect(m?.problem).toBe('segments are joined by spaces on one line (segment terminators lost): EVN inside segment #1 (MSH)');
    const [n] = splitHl7(`${MSH}\n${PID}\nOBR|1|X|Y||||^DOE^JANE OBX|1|NM|57716-3||3477701755\n`);
    expect(n?.problem).toMatch(/^segments are joined by spaces on one line .*OBX inside segment #3 \(OBR\)$/);
  });

  test('a line that is not a segment is reported with its position', () => {
    const [m] = splitHl7(`${MSH}\n${PID}\n// a comment\n`);
    expect(m?.problem).toBe('segment #3 does not start with a segment name and the field separator');
  });

  test('broken delimiters are reported', () => {
    expect(splitHl7('MSH|^~|X|Y')[0]?.problem).toMatch(/^MSH-2 must hold 4 encoding characters/);
    expect(splitHl7('MSHA^~\\&A')[0]?.problem).toMatch(/^MSH-1/);
    expect(splitHl7('MSH|^^\\&|X')[0]?.problem).toMatch(/distinct/);
  });
});

describe('parseHl7', () => {
  test('header: message type, control id, version, timestamp', () => {
    const m = parseHl7(`${MSH}\r${PID}`);
    expect(m.messageType).toBe('ADT^A04');
    expect(m.controlId).toBe('C-1');
    expect(m.version).toBe('2.5.1');
    expect(m.timestamp).toBe('20240301101500');
    expect(m.delimiters).toEqual({ field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' });
    expect(m.segments.map((s) => s.name)).toEqual(['MSH', 'PID']);
    expect(m.first('PID')?.value(5, 1, 2)).toBe('JANE');
  });

  test('MSH fields are numbered as in the standard (MSH-1 is the field separator)', () => {
    const msh = parseHl7(MSH).first('MSH')!;
    expect(msh.value(1)).toBe('|');
    expect(msh.value(2)).toBe('^~\\&');
    expect(msh.value(3)).toBe('EHR');
    expect(msh.value(9, 1, 1)).toBe('ADT');
    expect(msh.value(9, 1, 3)).toBe('ADT_A01');
    expect(msh.value(10)).toBe('C-1');
    expect(msh.value(12)).toBe('2.5.1');
  });

  test('field separator ^ (MSH^~|\\&): delimiters come from MSH-1/MSH-2', () => {
    const m = parseHl7('MSH^~|\\&^SENDING^200M^RECEIVING^200^20120918173931-0500^^ADT~A24^2003582144^T^2.4\rPID^1^^11111~~~FOO&&0363~NI|22222~~~BAR^^SMITH~JOHN');
    expect(m.delimiters).toEqual({ field: '^', component: '~', repetition: '|', escape: '\\', subcomponent: '&' });
    expect(m.messageType).toBe('ADT^A24');
    expect(m.controlId).toBe('2003582144');
    const pid = m.first('PID')!;
    expect(pid.value(3)).toBe('11111');
    expect(pid.value(3, 1, 4, 3)).toBe('0363');
    expect(pid.value(3, 2)).toBe('22222');
    expect(pid.repetitions(3)).toHaveLength(2);
    expect(pid.value(5, 1, 2)).toBe('JOHN');
  });

  test('custom subcomponent separator ^~\\} and v2.7 truncation character', () => {
    const m = parseHl7('MSH|^~\\}|A|B|C|D|1993||BAR^P01|X|P|2.4\rPID|||1^^^AUTH}2.16}ISO^MR');
    expect(m.delimiters.subcomponent).toBe('}');
    expect(m.first('PID')?.value(3, 1, 4, 2)).toBe('2.16');
    const t = parseHl7('MSH|^~\\&#|A|B|C|D|2024||ADT^A01|X|P|2.7');
    expect(t.delimiters).toMatchObject({ subcomponent: '&', truncation: '#' });
    expect(t.messageType).toBe('ADT^A01');
  });

  test('values are decoded; "" is an explicit null that reads as empty', () => {
    const m = parseHl7(`${MSH}\rPID|1||""|""^X|A\\T\\E^""~\\E\\x`);
    const pid = m.first('PID')!;
    expect(pid.value(3)).toBe('');
    expect(pid.isNull(3)).toBe(true);
    expect(pid.isNull(4)).toBe(true);
    expect(pid.value(4, 1, 2)).toBe('X');
    expect(pid.value(5)).toBe('A&E');
    expect(pid.value(5, 1, 2)).toBe('');
    expect(pid.isNull(5, 1, 2)).toBe(true);
    expect(pid.value(5, 2)).toBe('\\x');
    expect(pid.isNull(6)).toBe(false);
    expect(pid.value(99)).toBe('');
    expect(pid.fieldCount).toBe(5);
  });

  test('tolerates LF / CRLF text and envelopes when called directly', () => {
    const m = parseHl7(`\uFEFFBHS|^~\\&|X\r\n${MSH}\r\n\r\n${PID}\r\nBTS|1\r\n`);
    expect(m.segments.map((s) => s.name)).toEqual(['MSH', 'PID']);
  });

  test.each([
    ['no MSH', 'PID|1||X', /^no MSH segment/],
    ['empty', '', /^no MSH segment/],
    ['broken delimiters', 'MSH|^~|X', /^MSH-2 must hold 4 encoding characters/],
    ['two messages', `${MSH}\r${MSH}`, /^the text holds 2 messages/],
    ['glued segments', `${MSH}||| EVN|A01`, /^segments are joined by spaces/],
  ])('throws ERR_HL7_UNPARSEABLE on %s, with a one-line reason', (_label, text, reason) => {
    let error: unknown;
    try {
      parseHl7(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BridgeError);
    expect((error as BridgeError).code).toBe('ERR_HL7_UNPARSEABLE');
    expect((error as BridgeError).message).toMatch(reason);
    expect((error as BridgeError).message).not.toMatch(/\n/);
  });
});

describe('helpers', () => {
  test('piece', () => {
    expect(piece('a^b^c', '^', 1)).toBe('a');
    expect(piece('a^b^c', '^', 3)).toBe('c');
    expect(piece('a^b^c', '^', 4)).toBe('');
    expect(piece('', '^', 1)).toBe('');
  });

  test('readDelimiters', () => {
    expect(readDelimiters('MSH|^~\\&|')).toEqual({ field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' });
    expect(typeof readDelimiters('MSH')).toBe('string');
  });
});

const publicHl7 = readPublicFixtures('hl7')?.filter((f) => f.file.endsWith('.hl7'));

// The header values we read must agree with medplum's own reading of MSH (its getField numbering is the standard's).
(publicHl7 !== undefined ? describe : describe.skip)('MSH numbering agrees with medplum over the public fixtures', () => {
  test('MSH-7, MSH-9, MSH-10, MSH-12', () => {
    let checked = 0;
    for (const { text } of publicHl7 ?? []) {
      for (const raw of splitHl7(text)) {
        if (raw.problem !== undefined) continue;
        const ours = parseHl7(raw.text);
        const header = Hl7Message.parse(raw.text).header;
        const msh = ours.first('MSH')!;
        for (const [field, comp] of [
          [7, 1],
          [9, 1],
          [9, 2],
          [10, 1],
          [12, 1],
        ] as const) {
          expect(msh.value(field, 1, comp)).toBe(header.getComponent(field, comp).trim());
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(30);
  });
});
