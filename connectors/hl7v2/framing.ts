/**
 * MLLP framing (HL7 v2 Transport Specification, MLLP release 2): a message travels as
 * `0x0B <message bytes> 0x1C 0x0D`. The decoder is fed the socket's chunks and returns whole frames; it never
 * throws on bad input:
 * - bytes outside a frame (garbage between frames, a stray `0x0D`) are skipped and counted;
 * - a `0x1C` not followed by `0x0D` still ends the frame (the next byte is read as outside a frame);
 * - a new `0x0B` inside a frame means the sender never terminated the previous one: that part is returned as a
 *   frame marked `unterminated`, so it is stored and answered instead of silently lost;
 * - a frame longer than `maxBytes` keeps its first `maxBytes` bytes and is returned, marked `oversized` with its
 *   full length, once its end arrives (the rest is never buffered).
 */

export const START_BLOCK = 0x0b;
export const END_BLOCK = 0x1c;
export const CARRIAGE_RETURN = 0x0d;

export interface MllpFrame {
  /** The frame's content (at most maxBytes bytes). */
  readonly payload: Buffer;
  /** The content's full length (larger than payload.length when oversized). */
  readonly length: number;
  readonly oversized: boolean;
  readonly unterminated: boolean;
}

/** `0x0B payload 0x1C 0x0D`. */
export function frame(payload: string | Buffer): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const out = Buffer.allocUnsafe(body.length + 3);
  out[0] = START_BLOCK;
  body.copy(out, 1);
  out[body.length + 1] = END_BLOCK;
  out[body.length + 2] = CARRIAGE_RETURN;
  return out;
}

export class MllpDecoder {
  /** Bytes skipped outside any frame since the decoder was made. */
  skippedBytes = 0;
  private inFrame = false;
  /** After a 0x1C: the next byte may be its 0x0D. */
  private afterEnd = false;
  private parts: Buffer[] = [];
  private kept = 0;
  private length = 0;

  constructor(private readonly maxBytes: number) {}

  /** True while a frame has started and not ended (a partial message is buffered). */
  get partial(): boolean {
    return this.inFrame;
  }

  /** Feeds one chunk; returns the frames it completed, in order. */
  push(chunk: Buffer): MllpFrame[] {
    const frames: MllpFrame[] = [];
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.afterEnd) {
        this.afterEnd = false;
        if (chunk[i] === CARRIAGE_RETURN) {
          i += 1;
          continue;
        }
      }
      if (!this.inFrame) {
        const start = chunk.indexOf(START_BLOCK, i);
        if (start < 0) {
          this.skippedBytes += n - i;
          return frames;
        }
        this.skippedBytes += start - i;
        this.inFrame = true;
        i = start + 1;
        continue;
      }
      // Inside a frame: up to the next 0x1C (end) or 0x0B (a new start: the current frame was never ended).
      const end = indexOfEither(chunk, END_BLOCK, START_BLOCK, i);
      if (end < 0) {
        this.append(chunk.subarray(i));
        return frames;
      }
      this.append(chunk.subarray(i, end));
      if (chunk[end] === END_BLOCK) {
        frames.push(this.finish(false));
        this.afterEnd = true;
        i = end + 1;
      } else {
        frames.push(this.finish(true));
        this.inFrame = true;
        i = end + 1;
      }
    }
    return frames;
  }

  private append(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.length += bytes.length;
    const room = this.maxBytes - this.kept;
    if (room <= 0) return;
    const part = bytes.length <= room ? bytes : bytes.subarray(0, room);
    // Copy: the socket may reuse its chunk's memory.
    this.parts.push(Buffer.from(part));
    this.kept += part.length;
  }

  private finish(unterminated: boolean): MllpFrame {
    const payload = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.kept);
    const result = { payload, length: this.length, oversized: this.length > this.maxBytes, unterminated };
    this.parts = [];
    this.kept = 0;
    this.length = 0;
    this.inFrame = false;
    return result;
  }
}

function indexOfEither(chunk: Buffer, a: number, b: number, from: number): number {
  const first = chunk.indexOf(a, from);
  const second = chunk.indexOf(b, from);
  if (first < 0) return second;
  if (second < 0) return first;
  return Math.min(first, second);
}
