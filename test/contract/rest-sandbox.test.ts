import { createRestPortalClient } from '../../src/portal/rest';
import { sandboxControl, startSandboxPortal } from '../../src/portal/sandbox';
import { portalClientContract } from './portal-client.contract';

portalClientContract('REST client against the sandbox portal', async () => {
  const sandbox = await startSandboxPortal({ host: '127.0.0.1', port: 0 });
  const control = sandboxControl(sandbox.url);
  return {
    client: createRestPortalClient({ baseUrl: sandbox.url, timeoutMs: 5000 }),
    outbox: () => control.outbox(),
    login: async (accountId) => {
      await control.login({ accountId });
    },
    faults: (f) => control.faults(f),
    retainChanges: (n) => control.retainChanges(n),
    close: () => sandbox.close(),
  };
});
