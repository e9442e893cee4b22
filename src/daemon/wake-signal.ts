/**
 * How the daemon's loops wait without spinning: a sleep that ends early when the signal is woken (new inbox
 * rows, a schedule tick, shutdown). A wake that arrives while a loop is busy is not lost: the loop notes the
 * generation before its step and does not sleep if it changed meanwhile.
 */
export class WakeSignal {
  private waiters = new Set<() => void>();
  private closed = false;
  private gen = 0;

  /** Increases on every wake; pass the value seen before a step to `wait`. */
  get generation(): number {
    return this.gen;
  }

  /** True once closed (shutdown): every wait returns at once. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Resolves after `ms`, or at once when woken (or already woken since `seen`) or closed. */
  wait(ms: number, seen: number = this.gen): Promise<void> {
    if (this.closed || seen !== this.gen || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  /** Ends every current wait. */
  wake(): void {
    this.gen++;
    for (const done of [...this.waiters]) done();
  }

  /** Ends every wait, now and later. */
  close(): void {
    this.closed = true;
    this.wake();
  }
}
