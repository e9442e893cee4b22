/**
 * Where a benchmark's time goes: wall time summed per named call (portal methods, store functions, sandbox
 * routes). Calls run concurrently across job-runner loops, so sums can exceed the wall clock: read them as
 * "time spent waiting on X, all loops together", and the mean per call.
 */
import type { Store } from '../src/store';

interface Tally {
  calls: number;
  ns: bigint;
}

export class CallTimings {
  private readonly tallies = new Map<string, Tally>();

  /** Adds one call of `name` lasting `ns` nanoseconds. */
  add(name: string, ns: bigint): void {
    const t = this.tallies.get(name) ?? { calls: 0, ns: 0n };
    t.calls++;
    t.ns += ns;
    this.tallies.set(name, t);
  }

  /** Forgets everything (between phases). */
  reset(): void {
    this.tallies.clear();
  }

  /** An object whose async methods are timed under `<prefix>.<method>`; other members are copied as they are. */
  wrap<T extends object>(prefix: string, target: T): T {
    const out: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(target)) {
      out[name] = typeof value === 'function' ? this.timed(`${prefix}.${name}`, value as (...args: unknown[]) => Promise<unknown>) : value;
    }
    return out as T;
  }

  /**
   * The store with every module function and `transaction` timed. Functions called on a transaction's `tx`
   * are inside the `store.transaction` figure, not listed apart.
   */
  wrapStore(store: Store): Store {
    const wrapped: Record<string, unknown> = { ...store };
    // Each module group (inbox, jobs, ledger…) is a plain object of functions; `knex` is a function and stays as is.
    for (const [name, group] of Object.entries(store)) {
      if (typeof group === 'object' && group !== null) wrapped[name] = this.wrap(`store.${name}`, group as object);
    }
    wrapped['transaction'] = this.timed('store.transaction', store.transaction.bind(store) as (...args: unknown[]) => Promise<unknown>);
    return wrapped as unknown as Store;
  }

  /** Calls and seconds over every name. */
  total(): { calls: number; seconds: number } {
    let calls = 0;
    let ns = 0n;
    for (const t of this.tallies.values()) {
      calls += t.calls;
      ns += t.ns;
    }
    return { calls, seconds: Number(ns) / 1e9 };
  }

  /** Rows `name, calls, total s, mean ms`, largest total first. */
  report(indent = '    '): string[] {
    const rows = [...this.tallies.entries()].sort((a, b) => (b[1].ns > a[1].ns ? 1 : b[1].ns < a[1].ns ? -1 : 0));
    const width = Math.max(...rows.map(([n]) => n.length), 4);
    return rows.map(([name, t]) => {
      const seconds = Number(t.ns) / 1e9;
      const meanMs = (seconds * 1000) / t.calls;
      return `${indent}${name.padEnd(width)}  ${String(t.calls).padStart(8)} calls  ${seconds.toFixed(2).padStart(8)} s  ${meanMs.toFixed(3).padStart(8)} ms/call`;
    });
  }

  private timed(name: string, fn: (...args: unknown[]) => Promise<unknown>): (...args: unknown[]) => Promise<unknown> {
    return async (...args: unknown[]) => {
      const started = process.hrtime.bigint();
      try {
        return await fn(...args);
      } finally {
        this.add(name, process.hrtime.bigint() - started);
      }
    };
  }
}
