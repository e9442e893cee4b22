import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pollPortalChanges } from '../../src/reconcile/portal-changes';
import { writeCliConfig } from '../helpers/cli-config';
import { runCli } from '../helpers/cli';
import { describeEachDatabase } from '../helpers/db';
import { familyMessages } from '../helpers/families';
import { startPipeline, type Pipeline } from '../helpers/pipeline';

// DESIGN §5 / R18: a staff resend on a not-yet-activated account sends one welcome per request, never more.
jest.setTimeout(60_000);
let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'pb-resend-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describeEachDatabase('staff resend', (db) => {
  let p: Pipeline | undefined;
  afterEach(async () => {
    await p?.close();
    p = undefined;
  });

  test('one welcome per resend request while invited; none once active; unknown login → exit 1', () =>
    db.withStore(async (store) => {
      p = await startPipeline(store);
      await p.feed(familyMessages({ guardians: 1, childrenPer: 1 }));
      await p.drain();
      const config = writeCliConfig(db, tmp, 'resend');

      const first = await runCli('resend', 'Guardian1@example.org', '--request-id', 'ticket-1', '--json', '--config', config);
      expect(first.code).toBe(0);
      expect(JSON.parse(first.out)).toMatchObject({ trigger: 'resend:ticket-1', accounts: [{ status: 'invited', willSend: true }] });
      expect(first.out).not.toContain('guardian1@example.org');
      await p.drain();
      // The same request again (a double click, a replay) sends nothing more.
      await runCli('resend', 'guardian1@example.org', '--request-id', 'ticket-1', '--config', config);
      await p.drain();
      expect((await p.control.outbox()).map((o) => o.trigger)).toEqual(['created', 'resend:ticket-1']);

      await p.control.login({ email: 'guardian1@example.org' });
      await pollPortalChanges(p.reconcile);
      const active = await runCli('resend', 'guardian1@example.org', '--config', config);
      expect(active.code).toBe(0);
      expect(active.out).toMatch(/not sent — the account is active/);
      await p.drain();
      expect(await p.control.outbox()).toHaveLength(2);

      const unknown = await runCli('resend', 'nobody@example.org', '--config', config);
      expect(unknown.code).toBe(1);
      expect(unknown.err).toMatch(/no portal account with the login n\*+@example\.org/);
    }));
});
