import { PassThrough } from 'node:stream';
import type { FhirSubscriptionConnectorConfig } from '../../connectors/fhir/config';
import { createFhirHttp } from '../../connectors/fhir/fhir-http';
import { createFhirPoller } from '../../connectors/fhir/poller';
import { startSubscriptionReceiver, type SubscriptionReceiver } from '../../connectors/fhir/subscription';
import { createLogger } from '../../src/log';
import type { Store } from '../../src/store';
import { describeEachDatabase } from '../helpers/db';
import { startFhirTestServer, type FhirTestServer } from '../helpers/fhir-server';
import { eventNotification, handshakeNotification, heartbeatNotification, postNotification } from '../helpers/fhir-server/notify';

jest.setTimeout(30_000);

const SECRET = 'notify-secret-0123456789abcdef';
const SUBSCRIPTION = 'Subscription/sub-1';
const TOPIC = 'http://example.org/topic/patient-change';

interface Running {
  readonly server: FhirTestServer;
  readonly receiver: SubscriptionReceiver;
  readonly polls: string[];
  readonly logLines: string[];
  post(bundle: unknown, secret?: string): Promise<number>;
}

async function withReceiver(store: Store, fn: (r: Running) => Promise<void>): Promise<void> {
  const server = await startFhirTestServer();
  const logLines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (c: Buffer) => logLines.push(...c.toString('utf8').split('\n').filter((l) => l !== '')));
  const log = createLogger({ level: 'debug', stream });
  const http = createFhirHttp({ baseUrl: server.baseUrl, log, retry: { retries: 2, minTimeoutMs: 10, maxTimeoutMs: 100 } });
  const poller = createFhirPoller({ name: 'ehr', http, store, log });
  const polls: string[] = [];
  const config: FhirSubscriptionConnectorConfig = { kind: 'fhir-subscription', name: 'ehr-hooks', host: '127.0.0.1', port: 8090, path: '/fhir/notify', secretHeader: 'x-hook-secret', poller: 'ehr', maxBodyBytes: 1 << 20 };
  const receiver = await startSubscriptionReceiver({
    config,
    secret: SECRET,
    poller: {
      http,
      async pollNow(reason) {
        polls.push(reason);
        await poller.pollOnce();
      },
    },
    store,
    log,
    now: () => new Date(),
    onStored: () => undefined,
    port: 0,
  });
  try {
    await fn({
      server,
      receiver,
      polls,
      logLines,
      post: async (bundle, secret = SECRET) => (await postNotification(receiver.url, bundle, { 'x-hook-secret': secret })).status,
    });
  } finally {
    await receiver.close();
    await server.close();
  }
}

const rows = async (store: Store, source: string): Promise<{ control_id: string | null; status: string; error_code: string | null }[]> =>
  store.knex('inbox').select('control_id', 'status', 'error_code').where({ source }).orderBy('id');

describeEachDatabase('FHIR subscription receiver', (db) => {
  test('id-only event: stored before the 200, the focus resource read from the EHR and stored', async () => {
    await db.withStore(async (store) => {
      await withReceiver(store, async ({ server, receiver, post }) => {
        server.addFamilies({ guardians: 1 });
        expect(await post(handshakeNotification({ subscription: SUBSCRIPTION, topic: TOPIC, eventsSinceSubscriptionStart: 0 }))).toBe(200);
        const status = await post(eventNotification({ subscription: SUBSCRIPTION, topic: TOPIC, eventsSinceSubscriptionStart: 1, content: 'id-only', events: [{ eventNumber: 1, focus: 'Patient/P1-1' }] }));
        expect(status).toBe(200);
        await receiver.settled();
        const stored = await rows(store, 'ehr-hooks');
        expect(stored).toHaveLength(3);
        expect(stored[2]).toMatchObject({ control_id: 'Patient/P1-1', status: 'received' });
        // The same notification again (the EHR did not get our 200): a duplicate, nothing new.
        expect(await post(eventNotification({ subscription: SUBSCRIPTION, topic: TOPIC, eventsSinceSubscriptionStart: 1, content: 'id-only', events: [{ eventNumber: 1, focus: 'Patient/P1-1' }] }))).toBe(200);
        await receiver.settled();
        expect(await rows(store, 'ehr-hooks')).toHaveLength(3);
      });
    });
  });

  test('full-resource event: the notification carries the resource; nothing is read from the EHR', async () => {
    await db.withStore(async (store) => {
      await withReceiver(store, async ({ server, receiver, post }) => {
        server.addFamilies({ guardians: 1 });
        const resource = server.get('RelatedPerson', 'RP1-1')!;
        server.clearRequests();
        expect(await post(eventNotification({ subscription: SUBSCRIPTION, topic: TOPIC, eventsSinceSubscriptionStart: 1, content: 'full-resource', events: [{ eventNumber: 1, focus: 'RelatedPerson/RP1-1', resource }] }))).toBe(200);
        await receiver.settled();
        expect(server.requests()).toEqual([]);
        expect(await rows(store, 'ehr-hooks')).toHaveLength(1);
      });
    });
  });

  test('a gap in events-since-subscription-start, or a heartbeat that counts more events than we saw, starts a catch-up poll', async () => {
    await db.withStore(async (store) => {
      await withReceiver(store, async ({ server, receiver, post, polls }) => {
        server.addFamilies({ guardians: 2 });
        await post(eventNotification({ subscription: SUBSCRIPTION, topic: TOPIC, eventsSinceSubscriptionStart: 1, content: 'id-only', events: [{ eventNumber: 1, focus: 'Patient/P1-1' }] }));
        await receiver.settled();
        expect(polls).toEqual([]);
        await post(eventNotification({ subscription: SUBSCRIPTION, topic: TOPIC, eventsSinceSubscriptionStart: 4, content: 'id-only', events: [{ eventNumber: 4, focus: 'Patient/P2-1' }] }));
        await receiver.settled();
        expect(polls).toEqual(['subscription gap']);
        expect((await rows(store, 'ehr')).length).toBe(8);
        await post(heartbeatNotification({ subscription: SUBSCRIPTION, topic: TOPIC, eventsSinceSubscriptionStart: 4 }));
        await receiver.settled();
        expect(polls).toHaveLength(1);
        await post(heartbeatNotification({ subscription: SUBSCRIPTION, topic: TOPIC, eventsSinceSubscriptionStart: 6 }));
        await receiver.settled();
        expect(polls).toHaveLength(2);
      });
    });
  });

  test('R4B SubscriptionStatus notifications are read too', async () => {
    await db.withStore(async (store) => {
      await withReceiver(store, async ({ server, receiver, post }) => {
        server.addFamilies({ guardians: 1 });
        const bundle = eventNotification({ subscription: SUBSCRIPTION, topic: TOPIC, eventsSinceSubscriptionStart: 1, content: 'id-only', events: [{ eventNumber: 1, focus: 'Patient/P1-2' }], format: 'r4b-subscription-status' });
        expect(await post(bundle)).toBe(200);
        await receiver.settled();
        expect((await rows(store, 'ehr-hooks')).map((r) => r.control_id)).toEqual([null, 'Patient/P1-2']);
      });
    });
  });

  test('a wrong secret is 401 and stores nothing; a body that is not a notification is 400 and kept as rejected', async () => {
    await db.withStore(async (store) => {
      await withReceiver(store, async ({ post, logLines }) => {
        expect(await post(handshakeNotification({ subscription: SUBSCRIPTION, topic: TOPIC, eventsSinceSubscriptionStart: 0 }), 'wrong-secret-0123456789abcdef00')).toBe(401);
        expect(await rows(store, 'ehr-hooks')).toEqual([]);
        expect(await post({ resourceType: 'Patient', id: 'x' })).toBe(400);
        expect(await rows(store, 'ehr-hooks')).toEqual([{ control_id: null, status: 'rejected', error_code: 'ERR_FHIR_UNPARSEABLE' }]);
        expect(logLines.join('\n')).not.toContain(SECRET);
      });
    });
  });
});
