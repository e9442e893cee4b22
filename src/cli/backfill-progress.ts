/**
 * The progress of `portal-bridge backfill` (DESIGN §10: long work shows progress on a TTY, stays quiet in --json).
 * On a terminal: one line rewritten in place (`\r`), log lines printed above it. Otherwise: a plain line on each
 * phase change and at most every 10 seconds, so a log file or CI output stays readable.
 */
import { Writable } from 'node:stream';
import type { BackfillProgress } from '../../connectors/fhir/backfill';
import type { CliIo } from './io';

/** A terminal to draw on: process.stderr, or a fake in tests. */
export interface ProgressTerminal {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): void;
}

export interface ProgressDisplay {
  /** BackfillOptions.onProgress. */
  update(p: BackfillProgress): void;
  /** Where the CLI's logger writes: log lines go above the progress line. */
  readonly logStream: Writable;
  /** Ends the progress line (before the summary, or an error). */
  end(): void;
}

const PLAIN_EVERY_MS = 10_000;

export function createProgressDisplay(io: CliIo, terminal: ProgressTerminal | undefined, quiet: boolean, clock: () => number = Date.now): ProgressDisplay {
  const tty = terminal?.isTTY === true ? terminal : undefined;
  let shown: string | undefined;
  let plainAt = Number.NEGATIVE_INFINITY;
  let phase: string | undefined;
  let baseline: { at: number; read: number } | undefined;

  const draw = (text: string): void => {
    const width = Math.max(20, (tty?.columns ?? 100) - 1);
    tty?.write(`\r\x1b[K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
  };

  return {
    update(p) {
      if (quiet) return;
      const read = p.stored + p.duplicate + p.rejected;
      const at = clock();
      baseline ??= { at, read };
      const seconds = (at - baseline.at) / 1000;
      const rate = seconds >= 1 ? Math.round((read - baseline.read) / seconds) : undefined;
      const text = formatProgress(p, rate);
      if (tty !== undefined) {
        shown = text;
        draw(text);
      } else if (p.phase !== 'done' && (p.phase !== phase || at - plainAt >= PLAIN_EVERY_MS)) {
        io.err(text);
        plainAt = at;
      }
      phase = p.phase;
    },
    logStream: new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        const text = String(chunk).replace(/\n+$/, '');
        if (tty === undefined) io.err(text);
        else {
          tty.write(`${shown === undefined ? '' : '\r\x1b[K'}${text}\n`);
          if (shown !== undefined) draw(shown);
        }
        callback();
      },
    }),
    end() {
      if (tty !== undefined && shown !== undefined) tty.write('\n');
      shown = undefined;
    },
  };
}

/** `backfill [export] downloading file 3/8 · 1,234 read (Patient 500, RelatedPerson 734) · 1,200 new · 30 duplicate · 4 rejected · 410/s` */
export function formatProgress(p: BackfillProgress, ratePerS?: number): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  const read = p.stored + p.duplicate + p.rejected;
  const step =
    p.phase === 'kick-off'
      ? 'starting the export'
      : p.phase === 'waiting'
        ? `waiting for the server${p.serverProgress === undefined ? '' : ` (${p.serverProgress})`}`
        : p.phase === 'downloading'
          ? p.file === undefined
            ? 'paging'
            : `downloading file ${p.file.index}/${p.file.count}`
          : 'done';
  const types = Object.entries(p.byType).map(([type, count]) => `${type} ${n(count)}`);
  const parts = [
    `backfill [${p.mode}] ${step}`,
    `${n(read)} read${types.length === 0 ? '' : ` (${types.join(', ')})`}`,
    `${n(p.stored)} new`,
    `${n(p.duplicate)} duplicate`,
    `${n(p.rejected)} rejected`,
    ...(ratePerS === undefined ? [] : [`${n(ratePerS)}/s`]),
  ];
  return parts.join(' · ');
}
