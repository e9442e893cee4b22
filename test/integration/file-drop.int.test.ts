import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { judgeMessage } from '../../connectors/hl7v2/acceptance';
import { startFileDrop, type FileDrop, type FileDropOptions } from '../../connectors/hl7v2/file-drop';
import { splitHl7 } from '../../src/core/hl7/message';
import { createLogger } from '../../src/log';
import type { InboxRow, Store } from '../../src/store';
import { describeEachDatabase } from '../helpers/db';
import { familyMessages } from '../helpers/families';
import { publicFixtures } from '../helpers/fixtures';
import { bundledMapping } from '../helpers/mappings';
import { adtMessage } from '../helpers/mllp';

jest.setTimeout(60_000);

const mapping = bundledMapping('hl7v2');
const T0 = new Date('2026-11-01T09:00:00.000Z');

interface Running {
  readonly drop: FileDrop;
  readonly dir: string;
  readonly logLines: string[];
  /** Writes a file into the watched folder. */
  put(name: string, content: string | Buffer): string;
  /** File names in a folder under the watched one ('' for the folder itself). */
  ls(sub?: 'processed' | 'error' | ''): string[];
  read(sub: 'processed' | 'error', name: string): string;
}

/** A file drop on a fresh temp folder (removed afterwards), polling only when a test calls scanNow(). */
async function withDrop(store: Pick<Store, 'inbox'>, options: Partial<FileDropOptions>, fn: (r: Running) => Promise<void>, dir?: string): Promise<void> {
  const own = dir === undefined;
  const folder = dir ?? mkdtempSync(path.join(os.tmpdir(), 'pb-drop-'));
  const logLines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => logLines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== '')));
  const drop = await startFileDrop({ name: 'drop', dir: folder, store, mapping, log: createLogger({ level: 'debug', stream }), settleMs: 0, pollMs: 3_600_000, now: () => T0, ...options });
  try {
    await fn({
      drop,
      dir: folder,
      logLines,
      put(name, content) {
        const file = path.join(folder, name);
        writeFileSync(file, content);
        return file;
      },
      ls: (sub = '') => readdirSync(path.join(folder, sub), { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name).sort(),
      read: (sub, name) => readFileSync(path.join(folder, sub, name), 'utf8'),
    });
  } finally {
    await drop.close();
    if (own) rmSync(folder, { recursive: true, force: true });
  }
}

async function allRows(store: Store): Promise<InboxRow[]> {
  const rows = [...(await store.inbox.nextUnprocessed(10_000)), ...(await store.inbox.listRejected({ limit: 10_000 }))];
  return rows.sort((a, b) => a.id - b.id);
}

const noPatientId = (id: string): string => adtMessage(id).replace(`P-${id}^^^CLINIC^MR`, '');
const lf = (message: string): string => `${message.split('\r').join('\n')}\n`;

describeEachDatabase('HL7 v2 file drop', (db) => {
  test('one message: stored, then moved to processed/; the log names the file by a hash only', async () => {
    await db.withStore(async (store) => {
      await withDrop(store, {}, async ({ drop, put, ls, logLines }) => {
        put('Testchild_Kim_20261101.hl7', adtMessage('M1'));
        expect(await drop.scanNow()).toEqual({ files: 1, messages: 1, accepted: 1, rejected: 0, duplicate: 0, failedFiles: 0, settling: 0 });
        expect(ls()).toEqual([]);
        expect(ls('processed')).toEqual(['Testchild_Kim_20261101.hl7']);
        expect(ls('error')).toEqual([]);
        const rows = await allRows(store);
        expect(rows).toHaveLength(1);
        expect(rows[0]).toMatchObject({ source: 'drop', dedupeKey: 'M1', controlId: 'M1', format: 'hl7v2', status: 'received', raw: adtMessage('M1'), receivedAt: T0.toISOString() });
        expect(rows[0]?.ack).toBeUndefined();
        const stored = logLines.find((l) => l.includes('"file stored"'));
        expect(stored).toMatch(/"fileRef":"[0-9a-f]{12}"/);
        expect(stored).toContain('"movedTo":"processed"');
        const all = logLines.join('\n');
        for (const phi of ['Testchild', 'Kim', 'Testparent', 'example.org', 'P-M1']) expect(all).not.toContain(phi);
      });
    });
  });

  test('an FHS/BHS batch (CRLF) with 2 messages: 2 rows in one commit, processed/; onStored called', async () => {
    await db.withStore(async (store) => {
      let woken = 0;
      await withDrop(store, { onStored: () => (woken += 1) }, async ({ drop, put, ls }) => {
        const [a, b] = familyMessages({ guardians: 1, childrenPer: 2 }) as [string, string];
        const batch = ['FHS|^~\\&|EHR|CLINIC', 'BHS|^~\\&|EHR|CLINIC', ...a.split('\r'), ...b.split('\r'), 'BTS|2', 'FTS|1'].join('\r\n');
        put('batch.dat', `\ufeff${batch}\r\n`);
        expect(await drop.scanNow()).toMatchObject({ files: 1, messages: 2, accepted: 2 });
        expect(ls('processed')).toEqual(['batch.dat']);
        expect((await allRows(store)).map((r) => [r.controlId, r.raw])).toEqual([
          ['F1-1', a],
          ['F1-2', b],
        ]);
        expect(woken).toBe(1);
      });
    });
  });

  test('one good and one unmappable message: both stored, the file in error/ with a reason naming message 2, its line and code', async () => {
    await db.withStore(async (store) => {
      await withDrop(store, {}, async ({ drop, put, ls, read }) => {
        // adtMessage has 5 segments: the second message starts on line 6.
        put('mixed.hl7', lf(adtMessage('G1')) + lf(noPatientId('B2')));
        expect(await drop.scanNow()).toMatchObject({ files: 1, messages: 2, accepted: 1, rejected: 1, duplicate: 0 });
        expect(ls()).toEqual([]);
        expect(ls('error')).toEqual(['mixed.hl7', 'mixed.hl7.error.txt']);
        expect(read('error', 'mixed.hl7')).toBe(lf(adtMessage('G1')) + lf(noPatientId('B2')));
        const rows = await allRows(store);
        expect(rows.map((r) => [r.controlId, r.status, r.errorCode])).toEqual([
          ['G1', 'received', undefined],
          ['B2', 'rejected', 'ERR_MAPPING_MISSING_FIELD'],
        ]);
        const reason = read('error', 'mixed.hl7.error.txt');
        expect(reason).toContain('Messages: 2 (accepted 1, rejected 1, duplicate 0)');
        expect(reason).toContain(`- message 2 of 2, line 6, MSH-10 B2: AE ERR_MAPPING_MISSING_FIELD: ${rows[1]?.error} (inbox:${rows[1]?.id})`);
        expect(reason).not.toContain('message 1 of 2');
        for (const phi of ['Testchild', 'Testparent', 'example.org']) expect(reason).not.toContain(phi);
      });
    });
  });

  test('a message type the channel does not take is AR in the reason; a processing id not taken too', async () => {
    await db.withStore(async (store) => {
      await withDrop(store, { processingIds: ['P'] }, async ({ drop, put, read }) => {
        put('two.txt', [adtMessage('R1', { type: 'ORU^R01' }), adtMessage('R2', { processingId: 'T' })].join('\r'));
        expect(await drop.scanNow()).toMatchObject({ files: 1, messages: 2, rejected: 2 });
        const reason = read('error', 'two.txt.error.txt');
        expect(reason).toContain('- message 1 of 2, line 1, MSH-10 R1: AR ERR_MAPPING_UNSUPPORTED_EVENT');
        expect(reason).toContain('- message 2 of 2, line 6, MSH-10 R2: AR ERR_HL7_PROCESSING_ID');
      });
    });
  });

  test('empty, binary and non-HL7 files: each one rejected row holding the whole text, moved to error/ with a reason', async () => {
    await db.withStore(async (store) => {
      await withDrop(store, {}, async ({ drop, put, ls, read }) => {
        const binary = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0xff, 0xfe, 0x41]);
        put('empty.hl7', '');
        put('image.hl7', binary);
        put('notes.txt', 'call the lab\nabout the order\n');
        expect(await drop.scanNow()).toMatchObject({ files: 3, messages: 3, rejected: 3, failedFiles: 0 });
        expect(ls('error')).toEqual(['empty.hl7', 'empty.hl7.error.txt', 'image.hl7', 'image.hl7.error.txt', 'notes.txt', 'notes.txt.error.txt']);
        const rows = await allRows(store);
        expect(rows.map((r) => [r.status, r.errorCode])).toEqual(Array(3).fill(['rejected', 'ERR_HL7_UNPARSEABLE']));
        expect(rows.map((r) => r.raw).sort()).toEqual(['', 'call the lab\nabout the order\n', binary.toString('latin1').replaceAll('\u0000', '\uFFFD')].sort());
        expect(read('error', 'empty.hl7.error.txt')).toContain('- the file holds no HL7 message, line 1, MSH-10 (none): AE ERR_HL7_UNPARSEABLE: no HL7 message found');
        expect(read('error', 'image.hl7.error.txt')).toContain('NUL bytes');
        expect(read('error', 'notes.txt.error.txt')).toContain('no MSH segment');
      });
    });
  });

  test('the same file dropped twice: no second row (duplicate), processed/ again without overwriting the first', async () => {
    await db.withStore(async (store) => {
      await withDrop(store, {}, async ({ drop, put, ls, read }) => {
        put('a.hl7', adtMessage('D1'));
        await drop.scanNow();
        put('a.hl7', adtMessage('D1'));
        expect(await drop.scanNow()).toMatchObject({ files: 1, messages: 1, accepted: 0, duplicate: 1 });
        expect(ls('processed')).toEqual(['a.1.hl7', 'a.hl7']);
        expect(read('processed', 'a.1.hl7')).toBe(adtMessage('D1'));
        expect(await allRows(store)).toHaveLength(1);
        expect((await store.inbox.channelStats())[0]).toMatchObject({ source: 'drop', received: 2, accepted: 1, duplicate: 1 });
      });
    });
  });

  test('name clash in processed/ and error/: nothing is overwritten, a suffix is added', async () => {
    await db.withStore(async (store) => {
      await withDrop(store, { extensions: [] }, async ({ drop, put, ls, read, dir }) => {
        writeFileSync(path.join(dir, 'processed', 'x.hl7'), 'earlier file');
        writeFileSync(path.join(dir, 'processed', 'x.1.hl7'), 'earlier file 1');
        writeFileSync(path.join(dir, 'error', 'y'), 'earlier error');
        put('x.hl7', adtMessage('X1'));
        put('y', noPatientId('Y1'));
        expect(await drop.scanNow()).toMatchObject({ files: 2, failedFiles: 0 });
        expect(ls('processed')).toEqual(['x.1.hl7', 'x.2.hl7', 'x.hl7']);
        expect([read('processed', 'x.hl7'), read('processed', 'x.1.hl7'), read('processed', 'x.2.hl7')]).toEqual(['earlier file', 'earlier file 1', adtMessage('X1')]);
        expect(ls('error')).toEqual(['y', 'y.1', 'y.1.error.txt']);
        expect(read('error', 'y')).toBe('earlier error');
      });
    });
  });

  test('crash after the commit, before the move: the next run stores nothing twice (duplicates) and moves the file', async () => {
    await db.withStore(async (store) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'pb-drop-'));
      try {
        // The commit lands, then the process "dies": the connector never learns it was stored.
        const crashing = { inbox: { ...store.inbox, acceptInbox: async (...args: Parameters<Store['inbox']['acceptInbox']>) => {
          await store.inbox.acceptInbox(...args);
          throw new Error('process killed');
        } } };
        const content = lf(adtMessage('C1')) + lf(noPatientId('C2'));
        await withDrop(crashing, {}, async ({ drop, put, ls }) => {
          put('crash.hl7', content);
          expect(await drop.scanNow()).toMatchObject({ files: 0, failedFiles: 1 });
          expect(ls()).toEqual(['crash.hl7']);
        }, dir);
        expect(await allRows(store)).toHaveLength(2);
        await withDrop(store, {}, async ({ drop, ls, read }) => {
          expect(await drop.scanNow()).toMatchObject({ files: 1, messages: 2, accepted: 0, rejected: 0, duplicate: 2 });
          expect(ls()).toEqual([]);
          expect(ls('error')).toEqual(['crash.hl7', 'crash.hl7.error.txt']);
          expect(read('error', 'crash.hl7.error.txt')).toMatch(/message 2 of 2, line 6, MSH-10 C2: AE ERR_MAPPING_MISSING_FIELD: .* \(already stored as inbox:\d+\)/);
        }, dir);
        expect((await allRows(store)).map((r) => r.controlId)).toEqual(['C1', 'C2']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  test('a file still being written is not read until it has not changed for settleMs', async () => {
    await db.withStore(async (store) => {
      let clock = T0.getTime();
      await withDrop(store, { settleMs: 5000, now: () => new Date(clock) }, async ({ drop, put, ls }) => {
        const file = put('slow.hl7', adtMessage('S1').slice(0, 40));
        expect(await drop.scanNow()).toMatchObject({ files: 0, settling: 1 });
        clock += 3000;
        writeFileSync(file, adtMessage('S1'));
        // Changed since the last look: the wait starts again.
        expect(await drop.scanNow()).toMatchObject({ files: 0, settling: 1 });
        clock += 4000;
        expect(await drop.scanNow()).toMatchObject({ files: 0, settling: 1 });
        expect(ls()).toEqual(['slow.hl7']);
        expect(await allRows(store)).toHaveLength(0);
        clock += 1000;
        expect(await drop.scanNow()).toMatchObject({ files: 1, accepted: 1, settling: 0 });
        expect((await allRows(store))[0]?.raw).toBe(adtMessage('S1'));
      });
    });
  });

  test('the store fails: the files stay and are not moved; logged once; the next scan with a working store stores them', async () => {
    await db.withStore(async (store) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'pb-drop-'));
      try {
        const broken = { inbox: { ...store.inbox, acceptInbox: () => Promise.reject(new Error('disk full')) } };
        await withDrop(broken, {}, async ({ drop, put, ls, logLines }) => {
          for (const name of ['a', 'b', 'c']) put(`${name}.hl7`, adtMessage(`F-${name}`));
          // Two files in a row not stored: the store is down, the third waits for the next poll.
          expect(await drop.scanNow()).toMatchObject({ files: 0, failedFiles: 2 });
          expect(await drop.scanNow()).toMatchObject({ files: 0, failedFiles: 2 });
          expect(ls()).toEqual(['a.hl7', 'b.hl7', 'c.hl7']);
          expect(ls('processed')).toEqual([]);
          const levels = logLines.filter((l) => l.includes('file not stored')).map((l) => (JSON.parse(l) as { level: string }).level);
          expect(levels).toEqual(['error', 'error', 'debug', 'debug']);
        }, dir);
        await withDrop(store, {}, async ({ drop, ls }) => {
          expect(await drop.scanNow()).toMatchObject({ files: 3, accepted: 3, failedFiles: 0 });
          expect(ls('processed')).toEqual(['a.hl7', 'b.hl7', 'c.hl7']);
        }, dir);
        expect((await allRows(store)).map((r) => r.controlId)).toEqual(['F-a', 'F-b', 'F-c']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  test('one file the store refuses does not hold up the others', async () => {
    await db.withStore(async (store) => {
      const picky = {
        inbox: {
          ...store.inbox,
          acceptInbox: (items: Parameters<Store['inbox']['acceptInbox']>[0]) =>
            items.some((i) => i.controlId === 'POISON') ? Promise.reject(new Error('value too long')) : store.inbox.acceptInbox(items),
        },
      };
      await withDrop(picky, {}, async ({ drop, put, ls }) => {
        put('a.hl7', adtMessage('POISON'));
        put('b.hl7', adtMessage('OK-B'));
        put('c.hl7', adtMessage('OK-C'));
        expect(await drop.scanNow()).toMatchObject({ files: 2, accepted: 2, failedFiles: 1 });
        expect(ls()).toEqual(['a.hl7']);
        expect(ls('processed')).toEqual(['b.hl7', 'c.hl7']);
      });
    });
  });

  test('a read error is logged once with its code and retried next poll; the other files go on', async () => {
    await db.withStore(async (store) => {
      await withDrop(store, {}, async ({ drop, put, ls, logLines }) => {
        const locked = put('locked.hl7', adtMessage('L1'));
        put('open.hl7', adtMessage('L2'));
        const realRead = fsp.readFile;
        const spy = jest.spyOn(fsp, 'readFile').mockImplementation(((file: Parameters<typeof fsp.readFile>[0], ...rest: unknown[]) =>
          file === locked ? Promise.reject(Object.assign(new Error('permission denied'), { code: 'EACCES' })) : (realRead as (...a: unknown[]) => Promise<Buffer>)(file, ...rest)) as typeof fsp.readFile);
        try {
          expect(await drop.scanNow()).toMatchObject({ files: 1, failedFiles: 1 });
          expect(await drop.scanNow()).toMatchObject({ files: 0, failedFiles: 1 });
        } finally {
          spy.mockRestore();
        }
        const warned = logLines.filter((l) => l.includes('file cannot be read'));
        expect(warned.map((l) => JSON.parse(l) as { level: string; code: string }).map((l) => [l.level, l.code])).toEqual([
          ['warn', 'EACCES'],
          ['debug', 'EACCES'],
        ]);
        expect(ls()).toEqual(['locked.hl7']);
        expect(await drop.scanNow()).toMatchObject({ files: 1, failedFiles: 0 });
        expect(ls('processed')).toEqual(['locked.hl7', 'open.hl7']);
      });
    });
  });

  test('stored but the move fails: logged once as an error; later polls retry only the move, nothing is stored again', async () => {
    await db.withStore(async (store) => {
      await withDrop(store, {}, async ({ drop, put, ls, logLines }) => {
        put('stuck.hl7', adtMessage('K1'));
        const spy = jest.spyOn(fsp, 'rename').mockRejectedValue(Object.assign(new Error('permission denied'), { code: 'EACCES' }));
        try {
          expect(await drop.scanNow()).toMatchObject({ files: 0, failedFiles: 1 });
          expect(await drop.scanNow()).toMatchObject({ files: 0, failedFiles: 1 });
        } finally {
          spy.mockRestore();
        }
        expect(ls()).toEqual(['stuck.hl7']);
        const levels = logLines.filter((l) => l.includes('file stored but not moved')).map((l) => (JSON.parse(l) as { level: string; code: string }).level);
        expect(levels).toEqual(['error', 'debug']);
        expect(await drop.scanNow()).toMatchObject({ files: 1, messages: 0, failedFiles: 0 });
        expect(ls('processed')).toEqual(['stuck.hl7']);
        expect(logLines.some((l) => l.includes('file moved after an earlier failure'))).toBe(true);
        expect((await store.inbox.channelStats())[0]).toMatchObject({ received: 1, accepted: 1, duplicate: 0 });
      });
    });
  });

  test('dotfiles, temp names, other extensions and folders are left alone; oldest file first', async () => {
    await db.withStore(async (store) => {
      await withDrop(store, {}, async ({ drop, put, ls, dir }) => {
        put('.hidden.hl7', adtMessage('H1'));
        put('upload.hl7.part', adtMessage('H2'));
        put('upload.tmp', adtMessage('H3'));
        put('scan.pdf', adtMessage('H4'));
        await fsp.mkdir(path.join(dir, 'sub.hl7'));
        const newer = put('A-newer.HL7', adtMessage('N2'));
        const older = put('B-older.msg', adtMessage('N1'));
        await fsp.utimes(older, new Date(T0.getTime() - 60_000), new Date(T0.getTime() - 60_000));
        await fsp.utimes(newer, T0, T0);
        expect(await drop.scanNow()).toMatchObject({ files: 2, accepted: 2 });
        expect((await allRows(store)).map((r) => r.controlId)).toEqual(['N1', 'N2']);
        expect(ls()).toEqual(['.hidden.hl7', 'scan.pdf', 'upload.hl7.part', 'upload.tmp']);
      });
      await withDrop(store, { extensions: [] }, async ({ drop, put }) => {
        put('no-extension', adtMessage('E1'));
        put('x.tmp', adtMessage('E2'));
        expect(await drop.scanNow()).toMatchObject({ files: 1, accepted: 1 });
      });
    });
  });

  test('start-up: a missing folder is an error naming it; processed/ and error/ are created; the poll loop runs and stops', async () => {
    await db.withStore(async (store) => {
      const missing = path.join(os.tmpdir(), 'pb-drop-does-not-exist');
      const log = createLogger({ level: 'error', stream: new PassThrough() });
      await expect(startFileDrop({ name: 'drop', dir: missing, store, mapping, log })).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID', message: `connector drop: dir ${missing} does not exist` });
      const dir = mkdtempSync(path.join(os.tmpdir(), 'pb-drop-'));
      try {
        const elsewhere = path.join(dir, 'out', 'done');
        await withDrop(store, { pollMs: 20, processedDir: elsewhere }, async ({ put }) => {
          expect(statSync(elsewhere).isDirectory()).toBe(true);
          expect(existsSync(path.join(dir, 'error'))).toBe(true);
          put('polled.hl7', adtMessage('P1'));
          for (let i = 0; i < 500 && !existsSync(path.join(elsewhere, 'polled.hl7')); i++) await new Promise((r) => setTimeout(r, 10));
          expect(readdirSync(elsewhere)).toEqual(['polled.hl7']);
        }, dir);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  const fixtures = publicFixtures('hl7');
  (fixtures === undefined ? test.skip : test)('every public fixture file: moved to processed/ or error/, every message of every file in the inbox', async () => {
    await db.withStore(async (store) => {
      await withDrop(store, {}, async ({ drop, dir, ls }) => {
        const files = fixtures?.files ?? [];
        for (const file of files) copyFileSync(file, path.join(dir, path.basename(file)));
        const scan = await drop.scanNow();
        expect(ls()).toEqual([]);
        const processed = ls('processed');
        const errored = ls('error').filter((f) => !f.endsWith('.error.txt'));
        expect([...processed, ...errored].sort()).toEqual(files.map((f) => path.basename(f)).sort());
        expect(ls('error').filter((f) => f.endsWith('.error.txt'))).toEqual(errored.map((f) => `${f}.error.txt`));

        const rows = await allRows(store);
        const keys = new Set(rows.map((r) => r.dedupeKey));
        let expected = 0;
        for (const file of files) {
          const messages = splitHl7(readFileSync(file, 'utf8'));
          expected += messages.length;
          for (const m of messages) expect(keys.has(judgeMessage(m.text, { mapping }).dedupeKey)).toBe(true);
          const anyRefused = messages.some((m) => judgeMessage(m.text, { mapping }).outcome !== 'accept');
          expect(anyRefused ? errored : processed).toContain(path.basename(file));
        }
        expect(scan).toMatchObject({ files: files.length, messages: expected, failedFiles: 0 });
        expect(scan.accepted + scan.rejected + scan.duplicate).toBe(expected);
        expect(rows).toHaveLength(scan.accepted + scan.rejected);
      });
    });
  });
});
