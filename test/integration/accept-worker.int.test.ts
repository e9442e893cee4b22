/**
 * The SQLite inbox writer thread (StoreOptions.acceptInWorker, src/store/accept-offload.ts): the daemon's
 * connectors commit on it. Same semantics as the store's own connection (inbox.int.test.ts), plus what a second
 * connection and a thread bring: the other connection writing meanwhile, a store transaction keeping its own
 * batch, close() letting a batch in flight commit, and a thread that cannot start.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, type NewInboxItem } from '../../src/store';
import { SqliteAcceptWorker } from '../../src/store/accept-offload';
import type { Row } from '../../src/store/inbox-accept';
import { useTestDb } from '../helpers/db';

jest.setTimeout(30_000);

const T0 = new Date('2026-01-10T14:00:00.000Z');
const at = (ms: number): Date => new Date(T0.getTime() + ms);

function hl7(controlId: string, extra: Partial<NewInboxItem> = {}): NewInboxItem {
  return { source: 'adt-main', dedupeKey: controlId, controlId, format: 'hl7v2', raw: `MSH|^~\\&|EHR|CLINIC|||20260110||ADT^A08|${controlId}|P|2.5.1\rPID|1||12345^^^MR\r`, ...extra };
}

describe('inbox accept on the SQLite writer thread', () => {
  const db = useTestDb('sqlite', { acceptInWorker: true });

  test('stores once, answers in input order, replays the stored ACK, counts per channel', async () => {
    await db.withStore(async (store) => {
      const [old] = await store.inbox.acceptInbox([hl7('OLD', { ack: 'ACK-OLD' })], { now: T0 });
      expect(old).toEqual({ id: expect.any(Number), duplicate: false, ack: 'ACK-OLD' });
      const batch = [hl7('B1'), hl7('B2'), hl7('OLD'), hl7('B1'), hl7('R1', { status: 'rejected', errorCode: 'ERR_HL7_PARSE', error: 'no MSH' })];
      const results = await store.inbox.acceptInbox(batch, { now: at(1000) });
      expect(results.map((r) => r.duplicate)).toEqual([false, false, true, true, false]);
      expect(results[2]).toEqual({ id: old!.id, duplicate: true, ack: 'ACK-OLD' });
      expect(results[3]?.id).toBe(results[0]?.id);
      // Written by the thread's connection, read by the store's.
      expect((await store.inbox.nextUnprocessed(10)).map((r) => r.dedupeKey)).toEqual(['OLD', 'B1', 'B2']);
      expect(await store.inbox.getInbox(results[4]!.id)).toMatchObject({ status: 'rejected', errorCode: 'ERR_HL7_PARSE', processedAt: '2026-01-10T14:00:01.000Z' });
      expect(await store.inbox.channelStats()).toEqual([
        { source: 'adt-main', received: 6, accepted: 3, rejected: 1, duplicate: 2, lastMessageAt: '2026-01-10T14:00:01.000Z' },
      ]);
    });
  });

  test('a failing batch stores nothing and fails with the database code; the next batch is stored', async () => {
    await db.withStore(async (store) => {
      const broken = [hl7('D1'), { ...hl7('BAD'), raw: undefined as unknown as string }];
      await expect(store.inbox.acceptInbox(broken, { now: T0 })).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_NOTNULL' });
      expect(await store.inbox.nextUnprocessed(10)).toHaveLength(0);
      const [ok] = await store.inbox.acceptInbox([hl7('D1')], { now: T0 });
      expect(ok?.duplicate).toBe(false);
    });
  });

  test('the store connection writes at the same time without failing (each waits for the write lock)', async () => {
    await db.withStore(async (store) => {
      const accepts = Array.from({ length: 40 }, (_, i) => store.inbox.acceptInbox([hl7(`W${i}a`), hl7(`W${i}b`)], { now: at(i) }));
      const writes = Array.from({ length: 40 }, (_, i) => store.cursors.setCursor(`test:${i}`, String(i)));
      await Promise.all([...accepts, ...writes]);
      expect(await store.inbox.nextUnprocessed(100)).toHaveLength(80);
      expect(await store.cursors.getCursor('test:39')).toBe('39');
      const [stats] = await store.inbox.channelStats();
      expect(stats).toMatchObject({ received: 80, accepted: 80 });
    });
  });

  test('inside a store transaction the batch is part of that transaction (rolled back with it)', async () => {
    await db.withStore(async (store) => {
      await expect(
        store.transaction(async (tx) => {
          await tx.inbox.acceptInbox([hl7('T1')], { now: T0 });
          await tx.cursors.setCursor('fhir:test:Patient', 'page-2');
          throw new Error('page failed');
        }),
      ).rejects.toThrow('page failed');
      expect(await store.inbox.nextUnprocessed(10)).toHaveLength(0);
      expect(await store.cursors.getCursor('fhir:test:Patient')).toBeUndefined();
    });
  });

  test('close() lets a batch in flight commit first (and may be called twice)', async () => {
    const store = await db.open();
    await store.knex('inbox').delete();
    const pending = store.inbox.acceptInbox([hl7('C1'), hl7('C2')], { now: T0 });
    await Promise.all([store.close(), store.close()]);
    const results = await pending;
    expect(results.map((r) => r.duplicate)).toEqual([false, false]);
    await expect(store.inbox.acceptInbox([hl7('C3')], { now: T0 })).rejects.toThrow('the store is closed');

    const again = await db.open();
    try {
      expect((await again.inbox.nextUnprocessed(10)).map((r) => r.dedupeKey)).toEqual(['C1', 'C2']);
    } finally {
      await again.close();
    }
  });
});

describe('SqliteAcceptWorker', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pb-accept-worker-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const row = (key: string): Row => ({
    source: 'adt-main', dedupeKey: key, format: 'hl7v2', controlId: key, raw: 'MSH|^~\\&|EHR', receivedAt: '2026-01-10T14:00:00.000Z',
    status: 'received', errorCode: null, error: null, processedAt: null, ack: null,
  });

  test('a thread that cannot open the database fails its batch with the reason; the next batch starts a new thread', async () => {
    const file = path.join(dir, 'later.db');
    const writer = new SqliteAcceptWorker({ file, synchronous: 'FULL' });
    try {
      await expect(writer.accept([row('A1')])).rejects.toThrow(/^the inbox writer thread failed: unable to open database file/);

      const store = await openStore({ file });
      try {
        await store.migrate();
        const result = await writer.accept([row('A1')]);
        expect([...result.inserted.values()]).toEqual([{ id: expect.any(Number) }]);
        expect((await store.inbox.nextUnprocessed(10)).map((r) => r.dedupeKey)).toEqual(['A1']);
      } finally {
        await store.close();
      }
    } finally {
      await writer.close();
    }
  });
});
