import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeCliConfig } from '../helpers/cli-config';
import { runCli } from '../helpers/cli';
import { describeEachDatabase } from '../helpers/db';
import { familyMessages } from '../helpers/families';
import { startPipeline, type Pipeline } from '../helpers/pipeline';

// DESIGN §4: a cycle that would unlink more than a configured share of all links pauses and holds the unlinks.
jest.setTimeout(60_000);
let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'pb-guard-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The same child's chart re-sent with a different parent: the old parent's link should go. */
function replaceParent(message: string, n: number): string {
  return message
    .replace(/\|ADT\^A04\^ADT_A01\|F/, '|ADT^A08^ADT_A01|X')
    .replace(/\|2026011009(\d\d)(\d\d)\|/, (_m, mm: string, ss: string) => `|2026011110${mm}${ss}|`)
    .replace(/NK1\|1\|Parent\d+\^Pat\|[A-Z]+\|\|[^|]*\|/, `NK1|1|Other${n}^Pat|GRD||^NET^Internet^other${n}@example.org|`)
    .replace(/\|G\d+$/m, `|O${n}`);
}

describeEachDatabase('mass-unlink guard', (db) => {
  let p: Pipeline | undefined;
  afterEach(async () => {
    await p?.close();
    p = undefined;
  });

  test('holds unlinks beyond the share, keeps everything else, and lets them through once released', () =>
    db.withStore(async (store) => {
      p = await startPipeline(store, { guard: { massUnlinkShare: 0.2, minLinks: 5, windowMinutes: 60 } });
      const families = familyMessages({ guardians: 10, childrenPer: 1 });
      await p.feed(families);
      await p.drain();
      expect(await store.ledger.countLinks('linked')).toBe(10);

      // A bad night: five charts come back with another guardian. Creating the new accounts is fine; removing five
      // of ten links is not.
      await p.feed(families.slice(0, 5).map((m, i) => replaceParent(m, i)));
      await p.drain();
      const held = (await store.jobs.listFailed({ limit: 50 })).filter((j) => j.lastErrorCode === 'ERR_GUARD_MASS_UNLINK');
      // At most 20 % of the links may go within the window: one of ten (then 2 > 0.2 × 9); the rest are held.
      expect(held.length).toBe(4);
      expect(await store.ledger.countLinks('linked')).toBe(10 + 5 - 1);
      expect((await store.audit.listAudit({ guardianKey: held[0]!.key })).some((a) => a.rule === 'GUARD' && a.op === 'hold')).toBe(true);

      // Staff release it from the CLI (for an hour from now: the pipeline's clock is earlier, so it is released).
      const released = await runCli('guard', 'release', '--json', '--config', writeCliConfig(db, tmp, 'guard'));
      expect(released.code).toBe(0);
      expect(JSON.parse(released.out)).toMatchObject({ requeued: 4 });
      await p.drain();
      expect(await store.jobs.listFailed({ limit: 50 })).toEqual([]);
      expect(await store.ledger.countLinks('linked')).toBe(10);
      expect(await p.control.outbox()).toHaveLength(15);
    }));
});
