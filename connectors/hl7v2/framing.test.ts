import fc from 'fast-check';
import { frame, MllpDecoder } from './framing';

const texts = (frames: ReturnType<MllpDecoder['push']>): string[] => frames.map((f) => f.payload.toString('utf8'));

describe('MLLP framing', () => {
  test('frames split anywhere across chunks come out whole and in order', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: fc.constantFrom('M', 'S', 'H', '|', '^', '\r', 'é', '1') }), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (messages, cuts) => {
        const stream = Buffer.concat(messages.map((m) => frame(m)));
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        const decoder = new MllpDecoder(1 << 20);
        const out: string[] = [];
        let from = 0;
        for (const p of [...points, stream.length]) {
          out.push(...texts(decoder.push(stream.subarray(from, p))));
          from = p;
        }
        expect(out).toEqual(messages);
        expect(decoder.partial).toBe(false);
        expect(decoder.skippedBytes).toBe(0);
      }),
    );
  });

  test('garbage between frames is skipped and counted; a 0x1C without 0x0D still ends a frame', () => {
    const decoder = new MllpDecoder(1000);
    const stream = Buffer.concat([Buffer.from('junk\r'), frame('A'), Buffer.from([0x00, 0xff]), Buffer.from([0x0b]), Buffer.from('B'), Buffer.from([0x1c]), Buffer.from('x'), frame('C')]);
    expect(texts(decoder.push(stream))).toEqual(['A', 'B', 'C']);
    expect(decoder.skippedBytes).toBe(5 + 2 + 1);
  });

  test('a new 0x0B inside a frame returns the cut-off part marked unterminated', () => {
    const decoder = new MllpDecoder(1000);
    const frames = decoder.push(Buffer.concat([Buffer.from([0x0b]), Buffer.from('MSH|partial'), frame('MSH|whole')]));
    expect(frames.map((f) => [f.payload.toString(), f.unterminated])).toEqual([
      ['MSH|partial', true],
      ['MSH|whole', false],
    ]);
  });

  test('an oversized frame keeps its first maxBytes and its full length; the next frame is unaffected', () => {
    const decoder = new MllpDecoder(10);
    const big = 'x'.repeat(25);
    const stream = Buffer.concat([frame(big), frame('ok')]);
    const frames = [...decoder.push(stream.subarray(0, 7)), ...decoder.push(stream.subarray(7))];
    expect(frames.map((f) => [f.payload.toString(), f.length, f.oversized])).toEqual([
      ['x'.repeat(10), 25, true],
      ['ok', 2, false],
    ]);
  });

  test('a frame without its end stays partial', () => {
    const decoder = new MllpDecoder(100);
    expect(decoder.push(Buffer.from([0x0b, 0x41, 0x42]))).toEqual([]);
    expect(decoder.partial).toBe(true);
  });
});
