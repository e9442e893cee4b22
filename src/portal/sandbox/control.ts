/** A small client for the sandbox's test hooks (`/v1/_…`), for tests, the demo and benchmarks. */
import axios from 'axios';
import type { SandboxFaults } from './faults';
import type { OutboxItem } from './store/outbox';

/** Drives a running sandbox's test hooks. Every call throws on a non-2xx answer. */
export interface SandboxControl {
  /** Every welcome sent, oldest first (one account's when given). */
  outbox(accountId?: string): Promise<OutboxItem[]>;
  /** First login: `invited` → `active` (one change item); pending links become active. Returns the account JSON. */
  login(who: { accountId: string } | { email: string }): Promise<Record<string, unknown>>;
  /** Replaces the active faults; `null` clears them. */
  faults(faults: SandboxFaults | null): Promise<void>;
  /** Keeps only the last `n` changes (pruning at once): older cursors answer 410. */
  retainChanges(n: number): Promise<void>;
  /** Creates a staff account (`createdBy: staff`, no welcome). Returns the account JSON. */
  staffAccount(account: { externalId: string; email: string; givenName: string; familyName: string; cellPhone?: string; status?: 'invited' | 'active' }): Promise<Record<string, unknown>>;
}

/** A SandboxControl for the sandbox at `baseUrl` (e.g. RunningSandbox.url). */
export function sandboxControl(baseUrl: string): SandboxControl {
  const http = axios.create({ baseURL: baseUrl, timeout: 10_000, validateStatus: () => true, maxRedirects: 0 });
  async function call<T>(method: 'GET' | 'POST' | 'DELETE', url: string, data?: unknown, params?: Record<string, string>): Promise<T> {
    const res = await http.request<T>({ method, url, data, params });
    if (res.status >= 300) throw new Error(`sandbox hook ${method} ${url} answered ${res.status}`);
    return res.data;
  }
  return {
    outbox: async (accountId) => (await call<{ items: OutboxItem[] }>('GET', '/v1/_outbox', undefined, accountId === undefined ? undefined : { accountId })).items,
    login: (who) => call('POST', '/v1/_login', who),
    faults: async (faults) => {
      await (faults === null ? call('DELETE', '/v1/_faults') : call('POST', '/v1/_faults', faults));
    },
    retainChanges: async (n) => {
      await call('POST', '/v1/_retention', { changes: n });
    },
    staffAccount: (account) => call('POST', '/v1/_staff-accounts', account),
  };
}
