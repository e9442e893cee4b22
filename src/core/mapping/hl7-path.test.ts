import { parseHl7 } from '../hl7/message';
import { evaluateHl7Path, extractXtn, Hl7PathError, parseHl7Path } from './hl7-path';

describe('parseHl7Path', () => {
  test.each([
    ['PID-7', { segment: 'PID', field: 7 }],
    ['PID-5.1', { segment: 'PID', field: 5, component: 1 }],
    ['NK1-2.2', { segment: 'NK1', field: 2, component: 2 }],
    ['PID-3.4.2', { segment: 'PID', field: 3, component: 4, subcomponent: 2 }],
    ['PID-13[2]', { segment: 'PID', field: 13, repetition: 2 }],
    ['PID-3[5=MR].1', { segment: 'PID', field: 3, filter: { component: 5, values: ['MR'], keys: ['mr'] }, component: 1 }],
    ['PID-13[3=Internet|X.400]', { segment: 'PID', field: 13, filter: { component: 3, values: ['Internet', 'X.400'], keys: ['internet', 'x.400'] } }],
    ['PID-13[2=Mobile Number]', { segment: 'PID', field: 13, filter: { component: 2, values: ['Mobile Number'], keys: ['mobile number'] } }],
    ['ZNK-2', { segment: 'ZNK', field: 2 }],
    ['MSH-9.2', { segment: 'MSH', field: 9, component: 2 }],
  ])('%s', (text, expected) => {
    expect(parseHl7Path(text)).toEqual({ text, ...expected });
  });

  test('parsed paths are cached', () => {
    expect(parseHl7Path('PID-3[5=MR].1')).toBe(parseHl7Path('PID-3[5=MR].1'));
  });

  test.each([
    ['PID-', 5, "expected a field number after 'PID-' at column 5"],
    ['PID-x', 5, "expected a field number after 'PID-' at column 5"],
    ['pid-3', 1, "expected a segment name such as PID or ZNK ('PID', in upper case) at column 1"],
    ['P1', 1, 'expected a segment name such as PID or ZNK at column 1'],
    ['', 1, 'expected a segment name such as PID or ZNK at column 1'],
    ['PID', 4, "expected '-' and a field number after 'PID' at column 4"],
    ['PID.3', 4, "expected '-' and a field number after 'PID' (fields are written PID-3, components PID-3.1) at column 4"],
    ['PID-0', 5, 'numbers in a path start at 1 at column 5'],
    ['PID-3[5=MR.1', 13, "expected ']' at column 13 (to close the '[' at column 6)"],
    ['PID-3[]', 7, "expected a repetition number or component=value after '[' at column 7"],
    ['PID-3[5=]', 9, "expected a value after '=' at column 9"],
    ['PID-3[5=MR|]', 12, "expected a value after '|' at column 12"],
    ['PID-3[2', 8, "expected ']' at column 8 (to close the '[' at column 6)"],
    ['PID-3.', 7, "expected a component number after '.' at column 7"],
    ['PID-3.1.', 9, "expected a subcomponent number after '.' at column 9"],
    ['PID-3.1.2.4', 10, "unexpected '.': a path ends after the subcomponent at column 10"],
    ['PID-3 ', 6, "unexpected ' ' at column 6"],
    ['PID-3x', 6, "unexpected 'x' at column 6"],
    ['PID-99999', 5, '99999 is too large for a position in a segment at column 5'],
  ])('%j is refused at column %i', (text, column, message) => {
    let error: unknown;
    try {
      parseHl7Path(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Hl7PathError);
    expect((error as Hl7PathError).message).toBe(message);
    expect((error as Hl7PathError).column).toBe(column);
  });
});

const MSH = 'MSH|^~\\&|EHR|FAC|||20240301||ADT^A04|C1|P|2.5.1';

function seg(text: string, msh = MSH) {
  const m = parseHl7(`${msh}\r${text}`);
  return m.segments[1]!;
}

describe('evaluateHl7Path', () => {
  const pid = seg('PID|1||X-1^^^FAC^PI~MRN9^^^FAC^MR~""^^^FAC^SS|ALT|DOE&VAN^JANE^Q||20150612|F|||||(202) 555-0101^PRN^PH~^NET^Internet^jane@example.org~^PRN^CP^^1^202^5550102');

  test('no selector: first repetition, component 1, subcomponent 1', () => {
    expect(evaluateHl7Path('PID-3', pid)).toBe('X-1');
    expect(evaluateHl7Path('PID-5', pid)).toBe('DOE');
    expect(evaluateHl7Path('PID-5.1.2', pid)).toBe('VAN');
    expect(evaluateHl7Path('PID-5.2', pid)).toBe('JANE');
    expect(evaluateHl7Path('PID-7', pid)).toBe('20150612');
  });

  test('[n] repetition and [c=V] filters (case-insensitive, several values)', () => {
    expect(evaluateHl7Path('PID-3[2].1', pid)).toBe('MRN9');
    expect(evaluateHl7Path('PID-3[9].1', pid)).toBeUndefined();
    expect(evaluateHl7Path('PID-3[5=MR].1', pid)).toBe('MRN9');
    expect(evaluateHl7Path('PID-3[5=mr].1', pid)).toBe('MRN9');
    expect(evaluateHl7Path('PID-3[5=XX|PI].1', pid)).toBe('X-1');
    expect(evaluateHl7Path('PID-3[5=NH].1', pid)).toBeUndefined();
  });

  test('a filter takes the first matching repetition that yields a value', () => {
    const s = seg('PID|1||^^^A^MR~""^^^B^MR~M3^^^C^MR');
    expect(evaluateHl7Path('PID-3[5=MR].1', s)).toBe('M3');
  });

  test('"" and empty read as undefined', () => {
    expect(evaluateHl7Path('PID-3[5=SS].1', pid)).toBeUndefined();
    expect(evaluateHl7Path('PID-9', pid)).toBeUndefined();
    expect(evaluateHl7Path('PID-40', pid)).toBeUndefined();
  });

  test('a path for another segment gives undefined', () => {
    expect(evaluateHl7Path('NK1-2', pid)).toBeUndefined();
  });

  test('as: xtn-email / xtn-phone read the whole repetition', () => {
    expect(evaluateHl7Path('PID-13[2=NET]', pid, 'xtn-email')).toBe('jane@example.org');
    expect(evaluateHl7Path('PID-13[3=Internet|X.400]', pid, 'xtn-email')).toBe('jane@example.org');
    expect(evaluateHl7Path('PID-13[3=CP]', pid, 'xtn-phone')).toBe('+1 202 5550102');
    expect(evaluateHl7Path('PID-13', pid, 'xtn-phone')).toBe('(202) 555-0101');
    expect(evaluateHl7Path('PID-13', pid, 'xtn-email')).toBeUndefined();
    // With a component the extractor does not apply.
    expect(evaluateHl7Path('PID-13[2=NET].2', pid, 'xtn-email')).toBe('NET');
  });

  test('escapes are decoded in values and in filter comparisons', () => {
    const s = seg('NK1|1|O\\T\\BRIEN^A\\S\\B|M\\T\\D^x~FTH^y');
    expect(evaluateHl7Path('NK1-2.1', s)).toBe('O&BRIEN');
    expect(evaluateHl7Path('NK1-2.2', s)).toBe('A^B');
    expect(evaluateHl7Path('NK1-3[1=M&D].2', s)).toBe('x');
  });

  test('non-default delimiters (field separator ^)', () => {
    const s = seg('PID^1^^11111~~~FOO~MR|22222~~~BAR~PI^^SMITH~JOHN', 'MSH^~|\\&^A^B^C^D^2012^^ADT~A24^1^T^2.4');
    expect(evaluateHl7Path('PID-3[5=PI].1', s)).toBe('22222');
    expect(evaluateHl7Path('PID-5.2', s)).toBe('JOHN');
  });

  test('MSH-1 and MSH-2 are the delimiters; MSH-9 the message type', () => {
    const msh = parseHl7(MSH).segments[0]!;
    expect(evaluateHl7Path('MSH-1', msh)).toBe('|');
    expect(evaluateHl7Path('MSH-2', msh)).toBe('^~\\&');
    expect(evaluateHl7Path('MSH-2.2', msh)).toBeUndefined();
    expect(evaluateHl7Path('MSH-9.2', msh)).toBe('A04');
    expect(evaluateHl7Path('MSH-7', msh)).toBe('20240301');
  });
});

describe('extractXtn', () => {
  const d = { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' };
  test.each([
    ['^NET^Internet^a@example.org', 'a@example.org'],
    ['^NET^^a@example.org', 'a@example.org'],
    ['8315550909^^^b@example.org', 'b@example.org'],
    ['c@example.org^EMAIL', 'c@example.org'],
    ['""^EMAIL', undefined],
    ['(202) 555-0101^PRN^PH', undefined],
    ['78788788^WPN^Internet^5555', '5555'],
  ])('xtn-email %s', (rep, expected) => {
    expect(extractXtn('xtn-email', rep, d)).toBe(expected);
  });

  test.each([
    ['^PRN^PH^^^^^^^^^2025550103', '2025550103'],
    ['^^PH^^^202^5550104^^(202)555-0104', '202 5550104'],
    ['^^^^1^202^5550105', '+1 202 5550105'],
    ['^^^^+44^20^79460000', '+44 20 79460000'],
    ['(202)555-0106^PRN^CP', '(202)555-0106'],
    ['^^PH^^^^^^(202)555-0107', '(202)555-0107'],
    ['^NET^Internet^a@example.org', undefined],
  ])('xtn-phone %s', (rep, expected) => {
    expect(extractXtn('xtn-phone', rep, d)).toBe(expected);
  });
});
