/** What the benchmarks share: option checks that exit like a CLI's, and a log sink that only counts lines. */
import { Writable } from 'node:stream';

/** Usage errors exit 2 with the reason (bench options are checked like a CLI's). */
export function usage<T>(read: () => T): T {
  try {
    return read();
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(2);
  }
}

/** A positive whole number from an option (`10_000` and `10,000` allowed); exit 2 otherwise. */
export function positiveInt(name: string, text: string): number {
  const n = Number(text.replace(/[_,]/g, ''));
  if (!Number.isInteger(n) || n < 1) {
    console.error(`${name} must be a positive integer, not ${text}`);
    process.exit(2);
  }
  return n;
}

/** Counts log lines by level and message, parsing each JSON line as the real logger wrote it. */
export function countingSink(): { stream: Writable; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  let rest = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        if (line === '') continue;
        const { level, msg } = JSON.parse(line) as { level: string; msg: string };
        const k = `${level} ${msg}`;
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
      done();
    },
  });
  return { stream, counts };
}
