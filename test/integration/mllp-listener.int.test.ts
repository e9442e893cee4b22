import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { startMllpListener, type MllpListener, type MllpListenerOptions } from '../../connectors/hl7v2/mllp-listener';
import { createLogger } from '../../src/log';
import type { Store } from '../../src/store';
import { describeEachDatabase } from '../helpers/db';
import { bundledMapping } from '../helpers/mappings';
import { adtMessage, hl7Field, MllpTestClient } from '../helpers/mllp';

jest.setTimeout(30_000);

const mapping = bundledMapping('hl7v2');

interface Running {
  readonly listener: MllpListener;
  readonly logLines: string[];
  client(): Promise<MllpTestClient>;
}

async function withListener(store: Store, options: Partial<MllpListenerOptions>, fn: (r: Running) => Promise<void>): Promise<void> {
  const logLines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => logLines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== '')));
  const listener = await startMllpListener({ name: 'adt', port: 0, store, mapping, log: createLogger({ level: 'debug', stream }), ...options });
  const clients: MllpTestClient[] = [];
  try {
    await fn({
      listener,
      logLines,
      async client() {
        const c = await MllpTestClient.connect(listener.port);
        clients.push(c);
        return c;
      },
    });
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await listener.close();
  }
}

describeEachDatabase('MLLP listener', (db) => {
  test('AA once stored: MSA-2 echoes MSH-10, MSH-3/4 and 5/6 swapped, MSH-11/12 echoed, the ACK kept with the row', async () => {
    await db.withStore(async (store) => {
      await withListener(store, {}, async ({ client }) => {
        const c = await client();
        const ack = await c.send(adtMessage('M1'));
        expect(hl7Field(ack, 'MSA', 1)).toBe('AA');
        expect(hl7Field(ack, 'MSA', 2)).toBe('M1');
        expect([3, 4, 5, 6].map((n) => hl7Field(ack, 'MSH', n))).toEqual(['PORTAL', 'BRIDGE', 'EHRAPP', 'CLINIC']);
        expect(hl7Field(ack, 'MSH', 9)).toBe('ACK^A04^ACK');
        expect([hl7Field(ack, 'MSH', 11), hl7Field(ack, 'MSH', 12)]).toEqual(['P', '2.5.1']);
        expect(hl7Field(ack, 'ERR', 0)).toBe('');
        const rows = await store.inbox.nextUnprocessed(10);
        expect(rows).toHaveLength(1);
        expect(rows[0]).toMatchObject({ source: 'adt', dedupeKey: 'M1', controlId: 'M1', status: 'received', raw: adtMessage('M1'), ack });
      });
    });
  });

  test('AE when the message cannot be mapped or parsed, AR for a type or processing id the channel does not take: all stored as rejected', async () => {
    await db.withStore(async (store) => {
      await withListener(store, { processingIds: ['P'] }, async ({ client }) => {
        const c = await client();
        const noPatientId = adtMessage('E1').replace('P-E1^^^CLINIC^MR', '');
        const cases = [
          { text: noPatientId, code: 'AE', err: '101', errorCode: 'ERR_MAPPING_MISSING_FIELD' },
          { text: adtMessage('E2', { type: 'ORU^R01^ORU_R01' }), code: 'AR', err: '200', errorCode: 'ERR_MAPPING_UNSUPPORTED_EVENT' },
          { text: adtMessage('E3', { processingId: 'T' }), code: 'AR', err: '202', errorCode: 'ERR_HL7_PROCESSING_ID' },
          { text: 'this is not HL7 at all', code: 'AE', err: '102', errorCode: 'ERR_HL7_UNPARSEABLE' },
        ];
        for (const k of cases) {
          const ack = await c.send(k.text);
          expect(hl7Field(ack, 'MSA', 1)).toBe(k.code);
          expect(hl7Field(ack, 'ERR', 3).split('^')[0]).toBe(k.err);
          expect(hl7Field(ack, 'ERR', 4)).toBe('E');
          expect(hl7Field(ack, 'ERR', 8)).not.toBe('');
        }
        const rejected = await store.inbox.listRejected({ limit: 10 });
        expect(rejected.map((r) => r.errorCode).reverse()).toEqual(cases.map((k) => k.errorCode));
        expect(rejected.map((r) => r.raw).reverse()).toEqual(cases.map((k) => k.text));
        expect(rejected.every((r) => r.error !== undefined && r.ack !== undefined)).toBe(true);
        expect(await store.inbox.nextUnprocessed(10)).toHaveLength(0);
      });
    });
  });

  test('enhanced mode (MSH-15/16): CA after the durable write; NE sends nothing; ER answers only errors', async () => {
    await db.withStore(async (store) => {
      await withListener(store, {}, async ({ client }) => {
        const c = await client();
        const ca = await c.send(adtMessage('N1', { msh15: 'AL', msh16: 'NE' }));
        expect(hl7Field(ca, 'MSA', 1)).toBe('CA');
        c.sendFrame(adtMessage('N2', { msh15: 'NE' }));
        c.sendFrame(adtMessage('N3', { msh15: 'ER' }));
        const cr = await c.send(adtMessage('N4', { msh15: 'ER', type: 'ORU^R01' }));
        // N2 and N3 were not answered, so the next ACK on the connection is N4's.
        expect([hl7Field(cr, 'MSA', 1), hl7Field(cr, 'MSA', 2)]).toEqual(['CR', 'N4']);
        const ce = await c.send(adtMessage('N5', { msh15: 'AL', patientId: '' }));
        expect(hl7Field(ce, 'MSA', 1)).toBe('CE');
        const stored = (await store.inbox.nextUnprocessed(10)).map((r) => r.controlId);
        expect(stored).toEqual(['N1', 'N2', 'N3']);
      });
    });
  });

  test('a retransmission (same MSH-10 on the channel) is stored once and gets the stored ACK again; counts per channel', async () => {
    await db.withStore(async (store) => {
      await withListener(store, {}, async ({ client }) => {
        const c = await client();
        const first = await c.send(adtMessage('R1'));
        const again = await c.send(adtMessage('R1'));
        expect(again).toBe(first);
        const other = await client();
        expect(await other.send(adtMessage('R1'))).toBe(first);
        await c.send(adtMessage('R2', { type: 'ORU^R01' }));
        expect(await store.inbox.nextUnprocessed(10)).toHaveLength(1);
        const [stats] = await store.inbox.channelStats();
        expect(stats).toMatchObject({ source: 'adt', received: 4, accepted: 1, rejected: 1, duplicate: 2 });
        expect(stats?.lastMessageAt).toMatch(/^\d{4}-\d\d-\d\dT/);
      });
    });
  });

  test('one connection pipelining 200 messages: stored and answered in the order sent, sharing commits', async () => {
    await db.withStore(async (store) => {
      await withListener(store, {}, async ({ client, listener }) => {
        const c = await client();
        const ids = Array.from({ length: 200 }, (_, i) => `O${String(i).padStart(3, '0')}`);
        for (const id of ids) c.sendFrame(adtMessage(id));
        const acks: string[] = [];
        for (let i = 0; i < ids.length; i++) acks.push(await c.nextAck());
        expect(acks.map((a) => hl7Field(a, 'MSA', 2))).toEqual(ids);
        expect((await store.inbox.nextUnprocessed(500)).map((r) => r.controlId)).toEqual(ids);
        const { commits, messages } = listener.commitStats();
        expect(messages).toBe(200);
        expect(commits).toBeLessThan(200);
      });
    });
  });

  test('16 connections at once: every message answered AA and stored exactly once', async () => {
    await db.withStore(async (store) => {
      await withListener(store, {}, async ({ client }) => {
        const clients = await Promise.all(Array.from({ length: 16 }, () => client()));
        await Promise.all(
          clients.map(async (c, k) => {
            for (let i = 0; i < 25; i++) expect(hl7Field(await c.send(adtMessage(`C${k}-${i}`)), 'MSA', 1)).toBe('AA');
          }),
        );
        expect(await store.inbox.nextUnprocessed(1000)).toHaveLength(400);
      });
    });
  });

  test('garbage between frames is skipped; an oversized frame is answered AR with its first bytes kept; the connection goes on', async () => {
    await db.withStore(async (store) => {
      await withListener(store, { maxMessageBytes: 1000 }, async ({ client }) => {
        const c = await client();
        c.sendRaw(Buffer.from([0x00, 0xff, 0x41, 0x0d, 0x1c]));
        expect(hl7Field(await c.send(adtMessage('G1')), 'MSA', 1)).toBe('AA');
        const big = `${adtMessage('G2')}\rNTE|1||${'x'.repeat(5000)}`;
        const ar = await c.send(big);
        expect([hl7Field(ar, 'MSA', 1), hl7Field(ar, 'MSA', 2)]).toEqual(['AR', 'G2']);
        expect(hl7Field(await c.send(adtMessage('G3')), 'MSA', 1)).toBe('AA');
        const [rejected] = await store.inbox.listRejected({ limit: 5 });
        expect(rejected).toMatchObject({ errorCode: 'ERR_HL7_TOO_LARGE', raw: big.slice(0, 1000) });
        expect(rejected?.error).toContain(String(Buffer.byteLength(big)));
      });
    });
  });

  test('an unterminated frame followed by a new one: the cut-off part is answered AE and kept, the next one AA', async () => {
    await db.withStore(async (store) => {
      await withListener(store, {}, async ({ client }) => {
        const c = await client();
        c.sendRaw(Buffer.concat([Buffer.from([0x0b]), Buffer.from(adtMessage('U1').slice(0, 60))]));
        const ae = await c.send(adtMessage('U1'));
        expect(hl7Field(ae, 'MSA', 1)).toBe('AE');
        // The cut-off part does not shadow the whole message with the same MSH-10.
        expect(hl7Field(await c.nextAck(), 'MSA', 1)).toBe('AA');
        expect((await store.inbox.nextUnprocessed(5)).map((r) => r.controlId)).toEqual(['U1']);
        expect((await store.inbox.listRejected({ limit: 5 }))[0]?.raw).toBe(adtMessage('U1').slice(0, 60));
      });
    });
  });

  test('when the store fails, no ACK is sent and the connection is closed, so the sender sends again', async () => {
    await db.withStore(async (store) => {
      const broken = { inbox: { ...store.inbox, acceptInbox: () => Promise.reject(new Error('disk full')) } } as unknown as Store;
      await withListener(broken, {}, async ({ client, logLines }) => {
        const c = await client();
        c.sendFrame(adtMessage('F1'));
        await c.closed;
        expect(c.pending()).toBe(0);
        expect(logLines.some((l) => l.includes('message not stored'))).toBe(true);
      });
    });
  });

  test('log lines carry no message content', async () => {
    await db.withStore(async (store) => {
      await withListener(store, {}, async ({ client, logLines }) => {
        const c = await client();
        await c.send(adtMessage('L1'));
        await c.send(adtMessage('L2', { patientId: '' }));
        await c.close();
        await new Promise((r) => setTimeout(r, 50));
        const all = logLines.join('\n');
        expect(all).not.toContain('Testparent');
        expect(all).not.toContain('example.org');
        expect(all).not.toContain('P-L1');
      });
    });
  });

  test('TLS, and mutual TLS: a client with a certificate from the configured CA is served; one without, or with another, is refused', async () => {
    const tls = (name: string): Buffer => readFileSync(path.join(__dirname, '..', 'fixtures', 'tls', name));
    await db.withStore(async (store) => {
      await withListener(store, { tls: { cert: tls('server.crt'), key: tls('server.key'), ca: tls('ca.crt') } }, async ({ listener, logLines }) => {
        const good = await MllpTestClient.connect(listener.port, { tls: { ca: tls('ca.crt'), cert: tls('client.crt'), key: tls('client.key') } });
        try {
          expect(hl7Field(await good.send(adtMessage('T1')), 'MSA', 1)).toBe('AA');
        } finally {
          await good.close();
        }
        for (const client of [{}, { cert: tls('rogue.crt'), key: tls('rogue.key') }]) {
          const refused = MllpTestClient.connect(listener.port, { tls: { ca: tls('ca.crt'), ...client } }).then(async (c) => {
            // TLS 1.3 reports the refusal after the handshake: the first exchange fails.
            try {
              await c.send(adtMessage('T2'), 2000);
            } finally {
              c.socket.destroy();
            }
          });
          await expect(refused).rejects.toThrow();
        }
        expect((await store.inbox.nextUnprocessed(10)).map((r) => r.controlId)).toEqual(['T1']);
        expect(logLines.some((l) => l.includes('TLS handshake refused'))).toBe(true);
      });
    });
  });

  test('an idle connection is closed after idleTimeoutMs; one that keeps sending is not', async () => {
    await db.withStore(async (store) => {
      await withListener(store, { idleTimeoutMs: 300 }, async ({ client, logLines }) => {
        const idle = await client();
        const busy = await client();
        const started = Date.now();
        for (let i = 0; i < 6; i++) {
          expect(hl7Field(await busy.send(adtMessage(`I${i}`)), 'MSA', 1)).toBe('AA');
          await new Promise((r) => setTimeout(r, 100));
        }
        await idle.closed;
        expect(Date.now() - started).toBeGreaterThanOrEqual(250);
        expect(busy.socket.destroyed).toBe(false);
        expect(logLines.some((l) => l.includes('idle connection closed'))).toBe(true);
      });
    });
  });
});
