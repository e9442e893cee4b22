import type { NewInboxItem } from '../../src/store';
import { describeEachDatabase } from '../helpers/db';

jest.setTimeout(30_000);

const T0 = new Date('2026-01-10T14:00:00.000Z');
const at = (ms: number): Date => new Date(T0.getTime() + ms);
const DAY = 86_400_000;

function hl7(controlId: string, extra: Partial<NewInboxItem> = {}): NewInboxItem {
  return { source: 'adt-main', dedupeKey: controlId, controlId, format: 'hl7v2', raw: `MSH|^~\\&|EHR|CLINIC|||20260110||ADT^A08|${controlId}|P|2.5.1\rPID|1||12345^^^MR\r`, ...extra };
}

describeEachDatabase('inbox', (db) => {
  test('accepts an input once; a retransmission gets the same id and the stored ACK', async () => {
    await db.withStore(async (store) => {
      const [first] = await store.inbox.acceptInbox([hl7('M1')], { now: T0 });
      expect(first).toEqual({ id: expect.any(Number), duplicate: false });
      const [again] = await store.inbox.acceptInbox([hl7('M1')], { now: at(1000) });
      expect(again).toEqual({ id: first!.id, duplicate: true });

      await store.inbox.setAck(first!.id, 'MSH|^~\\&|PB||||||ACK^A08|A1|P|2.5.1\rMSA|AA|M1\r');
      const [replayed] = await store.inbox.acceptInbox([hl7('M1')], { now: at(2000) });
      expect(replayed).toEqual({ id: first!.id, duplicate: true, ack: 'MSH|^~\\&|PB||||||ACK^A08|A1|P|2.5.1\rMSA|AA|M1\r' });

      // The same control id on another channel is another input.
      const [other] = await store.inbox.acceptInbox([hl7('M1', { source: 'adt-lab' })], { now: T0 });
      expect(other?.duplicate).toBe(false);
      expect(other?.id).not.toBe(first!.id);
      expect(await store.inbox.nextUnprocessed(10)).toHaveLength(2);
    });
  });

  test('a batch is stored in one transaction, answered in input order, duplicates inside it included', async () => {
    await db.withStore(async (store) => {
      const [old] = await store.inbox.acceptInbox([hl7('OLD', { ack: 'ACK-OLD' })], { now: T0 });
      const batch = [hl7('B1'), hl7('B2'), hl7('OLD'), hl7('B1'), ...Array.from({ length: 12 }, (_, i) => hl7(`C${i}`))];
      const results = await store.inbox.acceptInbox(batch, { now: at(1000) });
      expect(results).toHaveLength(16);
      expect(results.map((r) => r.duplicate)).toEqual([false, false, true, true, ...Array<boolean>(12).fill(false)]);
      expect(results[2]).toEqual({ id: old!.id, duplicate: true, ack: 'ACK-OLD' });
      expect(results[3]?.id).toBe(results[0]?.id);
      expect(new Set(results.map((r) => r.id)).size).toBe(15);
      const pending = await store.inbox.nextUnprocessed(100);
      expect(pending.map((r) => r.dedupeKey)).toEqual(['OLD', 'B1', 'B2', ...Array.from({ length: 12 }, (_, i) => `C${i}`)]);

      // One bad item (raw missing: NOT NULL) at the end of a batch written in two statements: nothing is stored.
      const broken = [...Array.from({ length: 100 }, (_, i) => hl7(`D${i}`)), { ...hl7('BAD'), raw: undefined as unknown as string }];
      // (Matched by code: better-sqlite3's error class comes from whichever test file loaded the addon first in this
      // jest worker, so `toThrow`'s instanceof Error check is unreliable for it.)
      await expect(store.inbox.acceptInbox(broken, { now: at(2000) })).rejects.toMatchObject({ code: expect.stringMatching(/^(SQLITE_CONSTRAINT_NOTNULL|23502)$/) });
      expect(await store.inbox.nextUnprocessed(100)).toHaveLength(15);
    });
  });

  test('raw is stored exactly as received', async () => {
    await db.withStore(async (store) => {
      const raw = '\u000bMSH|^~\\&|É|ÇLINIC|||20260110||ADT^A08|X1|P|2.5.1\r\nNK1|1|O’Brien^Nora  \r\u001c\r \t';
      const [r] = await store.inbox.acceptInbox([hl7('X1', { raw })], { now: T0 });
      const row = await store.inbox.getInbox(r!.id);
      expect(row?.raw).toBe(raw);
      expect(row).toMatchObject({ source: 'adt-main', dedupeKey: 'X1', controlId: 'X1', format: 'hl7v2', status: 'received', receivedAt: '2026-01-10T14:00:00.000Z', warnings: [] });
      expect(row?.processedAt).toBeUndefined();
    });
  });

  test('concurrent accepts of one input store one row', async () => {
    await db.withStore(async (store) => {
      const results = (await Promise.all(Array.from({ length: 10 }, () => store.inbox.acceptInbox([hl7('RACE')], { now: T0 })))).flat();
      expect(new Set(results.map((r) => r.id)).size).toBe(1);
      expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
      expect(await store.inbox.nextUnprocessed(10)).toHaveLength(1);
    });
  });

  test('processing: oldest first, outcome recorded once, rejected kept for support, replayable', async () => {
    await db.withStore(async (store) => {
      const ids = (await store.inbox.acceptInbox([hl7('P1'), hl7('P2'), hl7('P3')], { now: T0 })).map((r) => r.id);
      const [idA, idB, idC] = ids as [number, number, number];
      expect((await store.inbox.nextUnprocessed(2)).map((r) => r.id)).toEqual([idA, idB]);

      expect(await store.inbox.markProcessed(idA, { status: 'accepted', warnings: ['R13'] }, { now: at(1) })).toBe(true);
      expect(await store.inbox.markProcessed(idA, { status: 'rejected', errorCode: 'ERR_X' }, { now: at(2) })).toBe(false);
      expect(await store.inbox.markProcessed(idB, { status: 'rejected', errorCode: 'ERR_MAPPING_MISSING_FIELD', error: 'PID-3 is empty\n  at line 2' }, { now: at(3) })).toBe(true);
      expect(await store.inbox.markProcessed(idC, { status: 'ignored' }, { now: at(4) })).toBe(true);

      expect(await store.inbox.getInbox(idA)).toMatchObject({ status: 'accepted', warnings: ['R13'], processedAt: at(1).toISOString() });
      const rejected = await store.inbox.listRejected({ limit: 10 });
      expect(rejected).toHaveLength(1);
      expect(rejected[0]).toMatchObject({ id: idB, errorCode: 'ERR_MAPPING_MISSING_FIELD', error: 'PID-3 is empty at line 2' });
      expect(await store.inbox.nextUnprocessed(10)).toEqual([]);

      expect(await store.inbox.reprocessInbox([idA, idB])).toBe(1);
      expect((await store.inbox.nextUnprocessed(10)).map((r) => r.id)).toEqual([idB]);
      expect(await store.inbox.getInbox(idB)).toMatchObject({ status: 'received', errorCode: undefined, error: undefined, processedAt: undefined });
    });
  });

  test('input known to be bad is stored as rejected at once', async () => {
    await db.withStore(async (store) => {
      const [r] = await store.inbox.acceptInbox([hl7('BAD', { raw: 'garbage', status: 'rejected', errorCode: 'ERR_HL7_UNPARSEABLE', error: 'no MSH segment' })], { now: T0 });
      expect(await store.inbox.getInbox(r!.id)).toMatchObject({ status: 'rejected', errorCode: 'ERR_HL7_UNPARSEABLE', error: 'no MSH segment', processedAt: T0.toISOString(), raw: 'garbage' });
      expect(await store.inbox.nextUnprocessed(10)).toEqual([]);
      expect((await store.inbox.listRejected({ limit: 10 })).map((x) => x.id)).toEqual([r!.id]);
    });
  });

  test('retention prunes processed rows older than the cut-off, never rejected or unprocessed ones', async () => {
    await db.withStore(async (store) => {
      const ids = (await store.inbox.acceptInbox(['A', 'B', 'C', 'D', 'E'].map((k) => hl7(k)), { now: T0 })).map((r) => r.id);
      const [a, b, c, d] = ids as [number, number, number, number, number];
      await store.inbox.markProcessed(a, { status: 'accepted' }, { now: T0 });
      await store.inbox.markProcessed(b, { status: 'ignored' }, { now: T0 });
      await store.inbox.markProcessed(c, { status: 'rejected', errorCode: 'ERR_X' }, { now: T0 });
      await store.inbox.markProcessed(d, { status: 'accepted' }, { now: at(10 * DAY) });
      expect(await store.inbox.pruneProcessed({ olderThan: at(7 * DAY) })).toBe(2);
      expect(await store.inbox.getInbox(a)).toBeUndefined();
      expect(await store.inbox.getInbox(b)).toBeUndefined();
      expect((await store.inbox.getInbox(c))?.status).toBe('rejected');
      expect((await store.inbox.getInbox(d))?.status).toBe('accepted');
      expect(await store.inbox.nextUnprocessed(10)).toHaveLength(1);
    });
  });

  test('NUL characters (never valid HL7 or JSON text) are stored as U+FFFD on both engines; the row and its dedupe still work', async () => {
    await db.withStore(async (store) => {
      const raw = 'MSH|^~\\&|EHR\u0000|X\rPID|1';
      const item = hl7('N\u00001', { raw, status: 'rejected', errorCode: 'ERR_HL7_UNPARSEABLE', error: 'has \u0000' });
      const [first] = await store.inbox.acceptInbox([item], { now: T0 });
      const [again] = await store.inbox.acceptInbox([item], { now: T0 });
      expect(again).toEqual({ id: first!.id, duplicate: true });
      const row = await store.inbox.getInbox(first!.id);
      expect(row).toMatchObject({ raw: 'MSH|^~\\&|EHR\uFFFD|X\rPID|1', dedupeKey: 'N\uFFFD1', error: 'has \uFFFD' });
    });
  });
});
