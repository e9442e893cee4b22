import { isBridgeError } from '../errors';
import type { Logger } from '../log';
import type { WakeSignal } from './wake-signal';

export interface LoopOptions {
  /** Short lowercase name for log lines (`ingest`, `worker`). */
  readonly name: string;
  readonly signal: WakeSignal;
  /** Checked before every step; the loop ends when it turns true (the step in flight finishes first). */
  readonly isStopping: () => boolean;
  readonly log: Logger;
  /** Longest wait after consecutive failures (the wait doubles from 250 ms up to this). */
  readonly maxErrorDelayMs: number;
}

/**
 * Runs `step` until stopping. `step` resolves to how long to wait before the next step (0: at once); the wait
 * ends early when the signal is woken. A failing step is logged (warn when the error is transient — a busy or
 * unreachable database heals itself —, error otherwise) and retried after a growing delay; the loop never
 * throws. Every step ends with a turn of the event loop.
 */
export async function runLoop(step: () => Promise<number>, options: LoopOptions): Promise<void> {
  const { signal, isStopping, log } = options;
  let failures = 0;
  while (!isStopping()) {
    const seen = signal.generation;
    let delayMs: number;
    try {
      delayMs = await step();
      failures = 0;
    } catch (e) {
      if (isStopping()) break;
      failures++;
      delayMs = Math.min(options.maxErrorDelayMs, 250 * 2 ** Math.min(failures - 1, 16));
      const fields = { loop: options.name, failures, delayMs, err: e };
      if (isBridgeError(e) && e.errorClass !== 'permanent') log.warn('daemon loop step failed: retrying', fields);
      else log.error('daemon loop step failed', fields);
    }
    // Always through the event loop: better-sqlite3 answers synchronously, so a busy loop of store calls would
    // otherwise run on microtasks alone and starve timers, signals and the other loops' HTTP answers.
    await new Promise((resolve) => setImmediate(resolve));
    if (delayMs > 0 && !isStopping()) await signal.wait(delayMs, seen);
  }
}
