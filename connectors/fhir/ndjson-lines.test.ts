import { splitLines } from './ndjson-lines';

async function* chunksOf(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

async function lines(text: string | Uint8Array, size: number): Promise<string[]> {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const out: string[] = [];
  for await (const line of splitLines(chunksOf(bytes, size))) out.push(line);
  return out;
}

test.each([1, 2, 3, 5, 64])('LF, CRLF, blank lines and a last line without newline, in %i-byte chunks', async (size) => {
  const text = '{"a":"é"}\r\n\n{"b":"😀"}\n  \r\n{"c":3}\r\n{"d":4}';
  expect(await lines(text, size)).toEqual(['{"a":"é"}', '{"b":"😀"}', '{"c":3}', '{"d":4}']);
});

test('a BOM is ignored; an empty body or only newlines gives no line; a final CR is dropped', async () => {
  expect(await lines('\uFEFF{"a":1}\n', 2)).toEqual(['{"a":1}']);
  expect(await lines('', 1)).toEqual([]);
  expect(await lines('\r\n\n\n', 1)).toEqual([]);
  expect(await lines('{"a":1}\r', 1)).toEqual(['{"a":1}']);
});

test('a line longer than many chunks is joined once', async () => {
  const long = `{"x":"${'y'.repeat(100_000)}"}`;
  expect(await lines(`${long}\n${long}`, 7)).toEqual([long, long]);
});

test('invalid UTF-8 throws (it is not silently replaced)', async () => {
  await expect(lines(Uint8Array.from([0x7b, 0xff, 0x7d, 0x0a]), 1)).rejects.toMatchObject({ code: 'ERR_ENCODING_INVALID_ENCODED_DATA' });
});
