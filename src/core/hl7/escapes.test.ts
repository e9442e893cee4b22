import { DEFAULT_DELIMITERS, decodeEscapes, type Hl7Delimiters } from './escapes';

const d = DEFAULT_DELIMITERS;

describe('decodeEscapes', () => {
  test('text without the escape character is returned as is', () => {
    const s = 'PLAIN TEXT';
    expect(decodeEscapes(s, d)).toBe(s);
  });

  test.each([
    ['A\\T\\E', 'A&E'],
    ['1\\S\\2', '1^2'],
    ['a\\F\\b', 'a|b'],
    ['x\\R\\y', 'x~y'],
    ['back\\E\\slash', 'back\\slash'],
    ['\\T\\\\S\\', '&^'],
  ])('%s → %s', (input, expected) => {
    expect(decodeEscapes(input, d)).toBe(expected);
  });

  test('hex: UTF-8 bytes, else ISO 8859-1', () => {
    expect(decodeEscapes('Mej\\XC3AD\\a', d)).toBe('Mejía');
    expect(decodeEscapes('Mej\\XED\\a', d)).toBe('Mejía');
    expect(decodeEscapes('\\X41\\', d)).toBe('A');
  });

  test('formatting, highlighting and charset commands are dropped', () => {
    expect(decodeEscapes('line one\\.br\\line two', d)).toBe('line oneline two');
    expect(decodeEscapes('\\H\\bold\\N\\ text', d)).toBe('bold text');
    expect(decodeEscapes('a\\.sp2\\b\\.in+4\\c', d)).toBe('abc');
    expect(decodeEscapes('\\C2842\\x', d)).toBe('x');
  });

  test('lone, unterminated or unknown escapes are kept literally (raw backslashes in free text)', () => {
    expect(decodeEscapes('CT leg \\\\auth pending- cmw', d)).toBe('CT leg \\\\auth pending- cmw');
    expect(decodeEscapes('C:\\temp', d)).toBe('C:\\temp');
    expect(decodeEscapes('\\foo\\ and \\T\\', d)).toBe('\\foo\\ and &');
    expect(decodeEscapes('\\X4\\', d)).toBe('\\X4\\');
    expect(decodeEscapes('\\', d)).toBe('\\');
  });

  test("uses the message's own delimiters and escape character", () => {
    const caret: Hl7Delimiters = { field: '^', component: '~', repetition: '|', escape: '\\', subcomponent: '&' };
    expect(decodeEscapes('a\\F\\b\\S\\c\\R\\d', caret)).toBe('a^b~c|d');
    const brace: Hl7Delimiters = { ...d, subcomponent: '}' };
    expect(decodeEscapes('x\\T\\y', brace)).toBe('x}y');
    const hash: Hl7Delimiters = { ...d, escape: '#' };
    expect(decodeEscapes('a#T#b\\T\\', hash)).toBe('a&b\\T\\');
    expect(decodeEscapes('#E#', hash)).toBe('#');
  });
});
