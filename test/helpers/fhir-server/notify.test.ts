import Fastify, { type FastifyInstance } from 'fastify';
import { fhirToSnapshot, isRejected } from '../../../connectors/fhir/to-snapshot';
import { bundledMapping } from '../mappings';
import { eventNotification, familyRelatedPerson, handshakeNotification, heartbeatNotification, postNotification, type NotificationBase } from './index';

/** Rest-hook notification Bundles (Subscriptions R5 Backport, R4 and R4B shapes). */

const base: NotificationBase = {
  subscription: 'https://ehr.example.org/fhir/Subscription/sub-1',
  topic: 'https://ehr.example.org/SubscriptionTopic/related-person-changed',
  eventsSinceSubscriptionStart: 7,
  timestamp: '2026-01-10T09:00:00.000Z',
};

type Param = { name: string; valueString?: string; valueCode?: string; valueReference?: { reference: string }; valueCanonical?: string; part?: Param[] };
type Bundle = { type: string; entry: { fullUrl?: string; resource?: { resourceType: string; parameter?: Param[]; [k: string]: unknown }; request?: unknown }[] };

const param = (b: Bundle, name: string): Param | undefined => b.entry[0]!.resource!.parameter!.find((p) => p.name === name);

describe('rest-hook notifications', () => {
  test('handshake and heartbeat: a history Bundle whose first entry is the status Parameters', () => {
    const hs = handshakeNotification({ ...base, eventsSinceSubscriptionStart: 0 }) as unknown as Bundle;
    expect(hs.type).toBe('history');
    expect(hs.entry).toHaveLength(1);
    expect(hs.entry[0]).toMatchObject({ fullUrl: expect.stringMatching(/^urn:uuid:/), request: { method: 'GET', url: `${base.subscription}/$status` } });
    expect(hs.entry[0]!.resource!.parameter).toEqual([
      { name: 'subscription', valueReference: { reference: base.subscription } },
      { name: 'topic', valueCanonical: base.topic },
      { name: 'status', valueCode: 'requested' },
      { name: 'type', valueCode: 'handshake' },
      { name: 'events-since-subscription-start', valueString: '0' },
    ]);
    const hb = heartbeatNotification(base) as unknown as Bundle;
    expect([param(hb, 'type')?.valueCode, param(hb, 'status')?.valueCode, param(hb, 'events-since-subscription-start')?.valueString]).toEqual(['heartbeat', 'active', '7']);
  });

  test('id-only: focus references in notification-event, no resources', () => {
    const b = eventNotification({ ...base, content: 'id-only', events: [{ eventNumber: 7, focus: 'RelatedPerson/RP1-1', timestamp: base.timestamp }] }) as unknown as Bundle;
    expect(b.entry).toHaveLength(1);
    expect(param(b, 'notification-event')?.part).toEqual([
      { name: 'event-number', valueString: '7' },
      { name: 'timestamp', valueInstant: base.timestamp },
      { name: 'focus', valueReference: { reference: 'RelatedPerson/RP1-1' } },
    ]);
    const withEntries = eventNotification({ ...base, content: 'id-only', focusEntries: true, fhirBase: 'https://ehr.example.org/fhir', events: [{ eventNumber: 7, focus: 'RelatedPerson/RP1-1' }] }) as unknown as Bundle;
    expect(withEntries.entry[1]).toEqual({ fullUrl: 'https://ehr.example.org/fhir/RelatedPerson/RP1-1', request: { method: 'PUT', url: 'RelatedPerson/RP1-1' }, response: { status: '200' } });
  });

  test('R4B form: SubscriptionStatus first', () => {
    const b = eventNotification({ ...base, format: 'r4b-subscription-status', content: 'id-only', events: [{ eventNumber: 7, focus: 'Patient/P1-1' }] }) as unknown as Bundle;
    expect(b.entry[0]!.resource).toMatchObject({
      resourceType: 'SubscriptionStatus',
      status: 'active',
      type: 'event-notification',
      eventsSinceSubscriptionStart: '7',
      notificationEvent: [{ eventNumber: '7', focus: { reference: 'Patient/P1-1' } }],
      subscription: { reference: base.subscription },
      topic: base.topic,
    });
  });

  test('full-resource without a resource is a programming error', () => {
    expect(() => eventNotification({ ...base, content: 'full-resource', events: [{ eventNumber: 1, focus: 'Patient/P1-1' }] })).toThrow(/no resource/);
  });

  describe('postNotification', () => {
    let receiver: FastifyInstance;
    let received: { contentType: string | undefined; body: unknown; auth: string | undefined }[];
    beforeEach(async () => {
      received = [];
      receiver = Fastify({ logger: false });
      receiver.addContentTypeParser('application/fhir+json', { parseAs: 'string' }, (_req, body, done) => done(null, JSON.parse(String(body))));
      receiver.post('/hook', async (req, reply) => {
        received.push({ contentType: req.headers['content-type'], body: req.body, auth: req.headers.authorization });
        return reply.code(200).send();
      });
      await receiver.listen({ host: '127.0.0.1', port: 0 });
    });
    afterEach(() => receiver.close());

    test('a full-resource notification arrives intact and maps through fhirToSnapshot', async () => {
      const rp = { ...familyRelatedPerson(1, 1), meta: { versionId: '2', lastUpdated: base.timestamp! } };
      const bundle = eventNotification({ ...base, content: 'full-resource', fhirBase: 'https://ehr.example.org/fhir', events: [{ eventNumber: 7, focus: 'RelatedPerson/RP1-1', resource: rp }] });
      const { port } = receiver.server.address() as { port: number };
      const answer = await postNotification(`http://127.0.0.1:${port}/hook`, bundle, { authorization: 'Bearer hook-secret' });
      expect(answer.status).toBe(200);
      expect(received).toEqual([{ contentType: 'application/fhir+json', body: bundle, auth: 'Bearer hook-secret' }]);
      const out = fhirToSnapshot(received[0]!.body, bundledMapping('fhir'));
      expect(out.filter(isRejected)).toEqual([]);
      expect(out.map((t) => t.controlId)).toEqual(['RelatedPerson/RP1-1']);
      const [mapped] = out;
      if (mapped === undefined || isRejected(mapped)) throw new Error('RelatedPerson/RP1-1 was not mapped');
      expect(mapped.ops).toEqual([
        expect.objectContaining({ kind: 'upsert-contacts', patientId: 'P1-1', contacts: [expect.objectContaining({ email: 'guardian1@example.org', contactId: 'G1' })] }),
      ]);
    });
  });
});
