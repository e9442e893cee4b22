import type { FaultRule } from './types';

/** What a `malformed: 'resource'` fault puts where a resource was: no resourceType, a number for a reference. */
export const GARBAGE_RESOURCE: Readonly<Record<string, unknown>> = Object.freeze({ patient: 42, name: 'not a resource' });

/** Queued faults, applied in order to the requests they match, each `times` times. */
export class FaultQueue {
  private readonly queue: { rule: FaultRule; left: number }[] = [];

  add(rule: FaultRule): void {
    const times = rule.times ?? 1;
    if (!Number.isInteger(times) || times < 1) throw new Error('fault: times must be a whole number ≥ 1');
    this.queue.push({ rule, left: times });
  }

  clear(): void {
    this.queue.length = 0;
  }

  /** The first queued fault that matches this request (its count is used up), or undefined. */
  take(method: string, path: string, url: string): FaultRule | undefined {
    const i = this.queue.findIndex(({ rule }) => matches(rule, method, path, url));
    if (i < 0) return undefined;
    const hit = this.queue[i]!;
    if (--hit.left === 0) this.queue.splice(i, 1);
    return hit.rule;
  }
}

function matches(rule: FaultRule, method: string, path: string, url: string): boolean {
  if (rule.method !== undefined && rule.method.toUpperCase() !== method) return false;
  const p = rule.path;
  if (p === undefined) return true;
  if (typeof p === 'string') return path === p || url.startsWith(p);
  p.lastIndex = 0;
  return p.test(url);
}

/** Spoils a JSON body: cut in half (`json`), or one resource replaced by garbage (`resource`). */
export function spoilJson(payload: string, kind: 'json' | 'resource'): string {
  if (kind === 'json') return payload.slice(0, Math.max(1, Math.floor(payload.length / 2)));
  let body: unknown;
  try {
    body = JSON.parse(payload);
  } catch {
    return payload;
  }
  const entries = (body as { entry?: unknown }).entry;
  if (Array.isArray(entries) && entries.length > 0) {
    const victim = entries[Math.floor(entries.length / 2)] as Record<string, unknown>;
    victim.resource = { ...GARBAGE_RESOURCE };
    return JSON.stringify(body);
  }
  return JSON.stringify(GARBAGE_RESOURCE);
}

/** Spoils one NDJSON line the same way. */
export function spoilLine(line: string, kind: 'json' | 'resource'): string {
  return kind === 'json' ? line.slice(0, Math.max(1, Math.floor(line.length / 2))) : JSON.stringify(GARBAGE_RESOURCE);
}
