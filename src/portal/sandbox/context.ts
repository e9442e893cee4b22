import type { SandboxDb } from './db';
import type { FaultInjector } from './faults';
import type { IdempotencyStore } from './idempotency';
import type { AccountStore } from './store/accounts';
import type { ChangeFeed } from './store/changes';
import type { Outbox } from './store/outbox';

/** Everything a sandbox route needs: the database and its tables, faults, the clock and id source. */
export interface SandboxContext {
  readonly db: SandboxDb;
  readonly accounts: AccountStore;
  readonly feed: ChangeFeed;
  readonly outbox: Outbox;
  readonly idempotency: IdempotencyStore;
  readonly faults: FaultInjector;
  readonly now: () => Date;
  /** A new unique id with a readable prefix (`acc_…`, `inv_…`). */
  readonly newId: (prefix: string) => string;
}
