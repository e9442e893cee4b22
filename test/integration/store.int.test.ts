import { BridgeError } from '../../src/errors';
import { openStore, STORE_TABLES } from '../../src/store';
import { describeEachDatabase } from '../helpers/db';

jest.setTimeout(30_000);

describeEachDatabase('store', (db) => {
  test('migrations run up from an empty database, and a second run does nothing', async () => {
    const store = await db.open();
    try {
      await store.knex.migrate.rollback(undefined, true);
      for (const table of STORE_TABLES) expect(await store.knex.schema.hasTable(table)).toBe(false);

      expect(await store.migrate()).toEqual(['001_inbox', '002_snapshot', '003_jobs', '004_ledger', '005_audit', '006_patient_email_key', '007_welcome_triggers', '008_channel_stats', '009_inbox_lean_indexes']);
      for (const table of STORE_TABLES) expect(await store.knex.schema.hasTable(table)).toBe(true);
      expect(await store.migrate()).toEqual([]);
      const [completed, pending] = (await store.knex.migrate.list()) as [unknown[], unknown[]];
      expect(completed).toHaveLength(9);
      expect(pending).toHaveLength(0);
    } finally {
      await store.close();
    }
  });

  // Several daemons on one PostgreSQL; SQLite is one daemon per file.
  if (db.dialect === 'postgres') {
    test('migrate creates the configured schema when it does not exist yet', async () => {
      const schema = `${String(db.options().schema)}_new`;
      const store = await openStore({ ...db.options(), schema });
      try {
        expect(await store.migrate()).toHaveLength(9);
        expect((await store.knex.raw('SELECT current_schema() AS s')).rows).toEqual([{ s: schema }]);
        expect(await store.knex.schema.withSchema(schema).hasTable('jobs')).toBe(true);
      } finally {
        await store.knex.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
        await store.close();
      }
    });

    test('two stores migrating the same database at once apply each migration once', async () => {
    const a = await openStore(db.options());
    const b = await openStore(db.options());
    try {
      await a.knex.migrate.rollback(undefined, true);
      const applied = await Promise.all([a.migrate(), b.migrate()]);
      expect(applied.flat().sort()).toEqual(['001_inbox', '002_snapshot', '003_jobs', '004_ledger', '005_audit', '006_patient_email_key', '007_welcome_triggers', '008_channel_stats', '009_inbox_lean_indexes']);
      expect(await a.migrate()).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
    });
  }

  test('store.transaction commits together or not at all', async () => {
    await db.withStore(async (store) => {
      const now = new Date('2026-01-10T14:00:00Z');
      await expect(
        store.transaction(async (tx) => {
          await tx.inbox.acceptInbox([{ source: 'adt', dedupeKey: 'M1', format: 'hl7v2', raw: 'MSH|' }], { now });
          await tx.jobs.enqueue(['c:1'], { now });
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await store.inbox.nextUnprocessed(10)).toEqual([]);
      expect(await store.jobs.getJob({ key: 'c:1' })).toBeUndefined();

      await store.transaction(async (tx) => {
        await tx.inbox.acceptInbox([{ source: 'adt', dedupeKey: 'M1', format: 'hl7v2', raw: 'MSH|' }], { now });
        await tx.jobs.enqueue(['c:1'], { now });
      });
      expect(await store.inbox.nextUnprocessed(10)).toHaveLength(1);
      expect((await store.jobs.getJob({ key: 'c:1' }))?.status).toBe('queued');
    });
  });

  test('store.dialect names the engine', async () => {
    await db.withStore(async (store) => expect(store.dialect).toBe(db.dialect));
  });

  if (db.dialect === 'sqlite') {
    test('SQLite connections use WAL, synchronous=FULL by default, and the configured level otherwise', async () => {
      await db.withStore(async (store) => {
        expect(await store.knex.raw('PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]);
        expect(await store.knex.raw('PRAGMA synchronous')).toEqual([{ synchronous: 2 }]);
      });
      const normal = await openStore({ ...db.options(), synchronous: 'NORMAL' });
      try {
        expect(await normal.knex.raw('PRAGMA synchronous')).toEqual([{ synchronous: 1 }]);
      } finally {
        await normal.close();
      }
    });
  }
});

describe('openStore', () => {
  test('refuses options that name no database, or two', async () => {
    await expect(openStore({})).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    await expect(openStore({ url: 'postgres://x@127.0.0.1/db', file: ':memory:' })).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    await expect(openStore({ url: 'mysql://x@127.0.0.1/db' })).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    await expect(openStore({ file: ':memory:', schema: 'x' })).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    await expect(openStore({ file: ':memory:', synchronous: 'OFF' as 'FULL' })).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
  });

  test('an unreachable PostgreSQL is ERR_STORE_UNAVAILABLE (transient)', async () => {
    const error: unknown = await openStore({ url: 'postgres://postgres@127.0.0.1:1/test' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BridgeError);
    expect(error).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', errorClass: 'transient' });
  });

  test('an SQLite file in a missing directory is a configuration error that says why', async () => {
    await expect(openStore({ file: '/nonexistent-dir/pb/store.db' })).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      message: expect.stringContaining('directory does not exist'),
    });
  });

  test('a private in-memory SQLite database works end to end', async () => {
    const store = await openStore({ file: ':memory:' });
    try {
      await store.migrate();
      await store.cursors.setCursor('fhir', '2026-01-01T00:00:00Z');
      expect(await store.cursors.getCursor('fhir')).toBe('2026-01-01T00:00:00Z');
    } finally {
      await store.close();
    }
  });
});
