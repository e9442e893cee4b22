/** What the PortalClient contract suite needs from a portal under test: the client plus the portal's test hooks. */
import type { PortalClient } from '../../src/portal/port';

/** The faults a harness can inject (the sandbox's `POST /v1/_faults`). */
export interface ContractFaults {
  readonly errorRate?: number;
  readonly errorStatus?: number;
  readonly errorRetryAfterSeconds?: number;
  readonly rateLimit?: { readonly every: number; readonly retryAfterSeconds: number };
  readonly latencyMs?: number;
  readonly dropAfterCommitRate?: number;
  readonly seed?: number;
}

/** One welcome the portal sent. */
export interface ContractOutboxItem {
  readonly invitationId: string;
  readonly accountId: string;
  readonly trigger: string;
}

/** A portal under test plus its test hooks. */
export interface PortalHarness {
  readonly client: PortalClient;
  /** Every welcome sent so far. */
  outbox(): Promise<readonly ContractOutboxItem[]>;
  /** Simulates the account holder's first login (invited → active). */
  login(accountId: string): Promise<void>;
  /** Replaces the injected faults; null clears them. */
  faults(f: ContractFaults | null): Promise<void>;
  /** Keeps only the last n changes, so older cursors expire. */
  retainChanges(n: number): Promise<void>;
  /** Stops the portal (after which calls fail to connect). Safe to call twice. */
  close(): Promise<void>;
}
