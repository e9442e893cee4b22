/**
 * The subscription receiver (issue #5): an HTTP endpoint for topic-based rest-hook notifications (R4 backport,
 * R4B, R5), authenticated by a shared secret in a configured header.
 *
 *   POST <path> → secret checked (401) → body stored in the inbox (a bad body too, as rejected, then 400)
 *   → 200 → id-only: each focus resource read from the EHR and stored; full-resource: the stored notification
 *   carries them → a gap in events-since-subscription-start (or a heartbeat that says we missed events) starts a
 *   catch-up poll of the configured fhir-poll connector.
 *
 * The notification is durable before the 200: an EHR that gets no 200 sends it again, and the copy is a duplicate.
 * What happens after the 200 is safe to lose: a resource that cannot be read now is caught by the next poll.
 */
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../../src/log';
import type { Store } from '../../src/store';
import { hashKey } from '../dedupe-key';
import type { FhirSubscriptionConnectorConfig } from './config';
import { resourceItem } from './inbox-items';
import { readNotification, type Notification } from './notification';
import type { FhirPollConnector } from './poll-connector';

export interface SubscriptionReceiverOptions {
  readonly config: FhirSubscriptionConnectorConfig;
  readonly secret: string;
  readonly poller: Pick<FhirPollConnector, 'http' | 'pollNow'>;
  readonly store: Pick<Store, 'inbox' | 'cursors'>;
  readonly log: Logger;
  readonly now: () => Date;
  readonly onStored: () => void;
  /** 0 for tests (a free port). */
  readonly port?: number;
}

export interface SubscriptionReceiver {
  readonly url: string;
  /** Resolves when the work after the 200s received so far (reads, catch-up) is done (tests). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export async function startSubscriptionReceiver(options: SubscriptionReceiverOptions): Promise<SubscriptionReceiver> {
  const { config } = options;
  const log = options.log.child({ channel: config.name, connector: 'fhir-subscription' });
  const secret = Buffer.from(options.secret, 'utf8');
  const pending = new Set<Promise<void>>();
  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: config.maxBodyBytes });
  app.addContentTypeParser(['application/fhir+json', 'application/json'], { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.post(config.path, async (request, reply) => {
    if (!secretMatches(request.headers[config.secretHeader.toLowerCase()], secret)) {
      log.warn('notification refused: wrong or missing secret', { header: config.secretHeader });
      return reply.code(401).send(outcome('security', 'missing or wrong secret'));
    }
    const text = typeof request.body === 'string' ? request.body : '';
    const at = options.now();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const notification = body === undefined ? 'the body is not JSON' : readNotification(body);
    if (typeof notification === 'string') {
      await options.store.inbox.acceptInbox([{ source: config.name, dedupeKey: hashKey(text), format: 'fhir', raw: text, receivedAt: at, status: 'rejected', errorCode: 'ERR_FHIR_UNPARSEABLE', error: notification }]);
      log.warn('notification refused: stored as rejected', { reason: notification });
      return reply.code(400).send(outcome('invalid', notification));
    }
    const [stored] = await options.store.inbox.acceptInbox([{ source: config.name, dedupeKey: notificationKey(notification, text), format: 'fhir', raw: text, receivedAt: at }]);
    if (stored !== undefined && !stored.duplicate) options.onStored();
    log.info('notification stored', { type: notification.type, events: notification.events.length, resources: notification.resources.length, duplicate: stored?.duplicate ?? false });
    const work = afterAck(notification).catch((e: unknown) => log.error('reading a notification\'s resources failed: the next poll catches them up', { error: e }));
    pending.add(work);
    void work.finally(() => pending.delete(work));
    return reply.code(200).send();
  });

  /** Reads what an id-only notification names, and catches up after a gap. */
  const afterAck = async (n: Notification): Promise<void> => {
    const carried = new Set(n.resources.map((r) => ((r as { resourceType?: unknown; id?: unknown }).resourceType as string) + '/' + String((r as { id?: unknown }).id)));
    const toRead = n.events.flatMap((e) => (e.focus !== undefined && !carried.has(`${e.focus.type}/${e.focus.id}`) ? [e.focus] : []));
    if (toRead.length > 0) {
      const resources = [];
      for (const focus of toRead) resources.push(await options.poller.http.read(focus.type, focus.id));
      const at = options.now();
      const results = await options.store.inbox.acceptInbox(resources.map((r) => resourceItem(r, config.name, at)));
      if (results.some((r) => !r.duplicate)) options.onStored();
    }
    if (await hasGap(n)) {
      log.warn('events missed on the subscription: catching up with a poll', { type: n.type, eventsSinceStart: n.eventsSinceStart ?? null });
      await options.poller.pollNow('subscription gap');
    }
  };

  /** Compares events-since-subscription-start with what this channel has seen, and records the newest. */
  const hasGap = async (n: Notification): Promise<boolean> => {
    if (n.eventsSinceStart === undefined || n.type === 'handshake') return false;
    const name = `fhir-sub:${config.name}:${n.subscription || '-'}`;
    const seenText = await options.store.cursors.getCursor(name);
    const seen = seenText === undefined ? undefined : Number(seenText);
    const numbers = n.events.map((e) => e.eventNumber).filter((x): x is number => x !== undefined);
    const first = numbers.length > 0 ? Math.min(...numbers) : undefined;
    const newest = Math.max(n.eventsSinceStart, ...numbers, seen ?? 0);
    if (seen === undefined || newest > seen) await options.store.cursors.setCursor(name, String(newest));
    if (seen === undefined) return false;
    // Missed: events between what we saw and this notification's first event (or, for a heartbeat, its count).
    const expectedNext = seen + 1;
    return n.type === 'event-notification' ? first !== undefined && first > expectedNext : n.eventsSinceStart > seen;
  };

  await app.listen({ host: config.host, port: options.port ?? config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  log.info('FHIR subscription receiver started', { host: config.host, port, path: config.path });
  return {
    url: `http://${config.host}:${port}${config.path}`,
    async settled() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    async close() {
      await app.close();
      while (pending.size > 0) await Promise.allSettled([...pending]);
      log.info('FHIR subscription receiver stopped');
    },
  };
}

/** Retransmissions of one event are duplicates: subscription + event numbers; else the text's hash. */
function notificationKey(n: Notification, text: string): string {
  const numbers = n.events.map((e) => e.eventNumber).filter((x) => x !== undefined);
  if (n.type === 'event-notification' && numbers.length > 0 && n.subscription !== '') return `notification:${n.subscription}:${numbers.join(',')}`;
  return hashKey(text);
}

function secretMatches(header: string | string[] | undefined, secret: Buffer): boolean {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return false;
  const given = Buffer.from(value.replace(/^Bearer\s+/i, ''), 'utf8');
  return given.length === secret.length && timingSafeEqual(given, secret);
}

function outcome(code: string, diagnostics: string): Record<string, unknown> {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics }] };
}
