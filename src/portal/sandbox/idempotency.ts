/**
 * Idempotency keys on the sandbox: a key is claimed before the work, and the answer is stored in the same
 * transaction as the work (so a dropped connection still leaves the committed answer to replay).
 *
 * - same key, same request (method, path, body) → the first answer replayed (status, body, ETag/Location);
 * - same key, other request → 422 `idempotency_key_reused`;
 * - same key while the first request is still running → 409 `in_flight`.
 * Only 2xx answers are kept: after a 4xx the key is released, so a corrected retry with the same key can succeed
 * (the bridge re-reads and retries an update after 412 with the same key).
 */
import { createHash } from 'node:crypto';
import type { SandboxDb } from './db';
import { ProblemError, type Answer } from './problem';

/** The outcome of claiming a key. */
export type Claim = { readonly kind: 'claimed' } | { readonly kind: 'replay'; readonly answer: Answer };

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

interface Row {
  fingerprint: string;
  state: 'in_flight' | 'done';
  status: number | null;
  headers: string | null;
  body: string | null;
}

/** The idempotency table of one sandbox database. */
export class IdempotencyStore {
  private readonly select;
  private readonly insert;
  private readonly finish;
  private readonly remove;

  constructor(db: SandboxDb) {
    this.select = db.prepare('SELECT fingerprint, state, status, headers, body FROM idempotency WHERE key = ?');
    this.insert = db.prepare("INSERT INTO idempotency (key, fingerprint, state, created_at) VALUES (?, ?, 'in_flight', ?)");
    this.finish = db.prepare("UPDATE idempotency SET state = 'done', status = ?, headers = ?, body = ? WHERE key = ?");
    this.remove = db.prepare("DELETE FROM idempotency WHERE key = ? AND state = 'in_flight'");
  }

  /** Claims `key` for a request with `fingerprint`, or answers with the stored result. Throws a ProblemError. */
  claim(key: string, fingerprint: string, now: Date): Claim {
    if (!KEY_PATTERN.test(key)) throw new ProblemError(400, 'invalid_idempotency_key', 'Idempotency-Key must be 1 to 255 visible ASCII characters.');
    const row = this.select.get(key) as Row | undefined;
    if (row === undefined) {
      this.insert.run(key, fingerprint, now.toISOString());
      return { kind: 'claimed' };
    }
    if (row.fingerprint !== fingerprint) {
      throw new ProblemError(422, 'idempotency_key_reused', 'This Idempotency-Key was used with another request.');
    }
    if (row.state === 'in_flight') {
      throw new ProblemError(409, 'in_flight', 'A request with this Idempotency-Key is still being processed.', { 'retry-after': '1' });
    }
    const headers = JSON.parse(row.headers ?? '{}') as Record<string, string>;
    const answer: Answer = { status: row.status ?? 200, headers: { ...headers, 'idempotent-replayed': 'true' } };
    return { kind: 'replay', answer: row.body === null ? answer : { ...answer, body: JSON.parse(row.body) as unknown } };
  }

  /** Stores the answer of a claimed key (call inside the work's transaction). */
  complete(key: string, answer: Answer): void {
    const headers = JSON.stringify(answer.headers ?? {});
    this.finish.run(answer.status, headers, answer.body === undefined ? null : JSON.stringify(answer.body), key);
  }

  /** Releases a claim whose request did not succeed. */
  release(key: string): void {
    this.remove.run(key);
  }
}

/** The fingerprint of a request: method, path and the body as canonical JSON (key order does not matter). */
export function requestFingerprint(method: string, path: string, body: unknown): string {
  return createHash('sha256').update(`${method} ${path}\n${canonicalJson(body)}`, 'utf8').digest('hex');
}

function canonicalJson(value: unknown): string {
  if (value === undefined) return '';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}
