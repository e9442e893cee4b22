/**
 * Group commit without a timer (issue #4): the first item starts a commit as soon as the event loop has read
 * what is already waiting (one `setImmediate`, i.e. after the current I/O phase, never a fixed window); the items
 * that arrive while a commit runs share the next one. Each submitter's promise settles with its own commit, so an
 * ACK never leaves before its message is durable. Items keep their submission order inside and across commits.
 */
export type CommitBatch<T, R> = (items: readonly T[]) => Promise<readonly R[]>;

interface Pending<T, R> {
  readonly item: T;
  resolve(result: R): void;
  reject(error: unknown): void;
}

export class GroupCommit<T, R> {
  private pending: Pending<T, R>[] = [];
  private running = false;
  private scheduled = false;
  private idle: (() => void)[] = [];
  /** Commits run so far and the items they held (for status and benchmarks). */
  commits = 0;
  committedItems = 0;

  constructor(private readonly commit: CommitBatch<T, R>) {}

  /** Queues one item; settles when the commit holding it has. */
  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Items waiting for a commit that has not started yet. */
  get waiting(): number {
    return this.pending.length;
  }

  /** Resolves when nothing is queued or committing. */
  drained(): Promise<void> {
    if (!this.running && !this.scheduled && this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private schedule(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    if (this.running) return;
    const batch = this.pending;
    if (batch.length === 0) {
      this.settleIdle();
      return;
    }
    this.pending = [];
    this.running = true;
    try {
      const results = await this.commit(batch.map((p) => p.item));
      this.commits += 1;
      this.committedItems += batch.length;
      batch.forEach((p, i) => p.resolve(results[i] as R));
    } catch (e) {
      for (const p of batch) p.reject(e);
    } finally {
      this.running = false;
    }
    // What arrived during the commit is already read: it starts the next commit now, not a loop turn later.
    if (this.pending.length > 0) void this.run();
    else this.settleIdle();
  }

  private settleIdle(): void {
    const waiters = this.idle;
    this.idle = [];
    for (const resolve of waiters) resolve();
  }
}
