import { randomUUID } from 'node:crypto';
import type { FhirResource } from './types';

/**
 * Rest-hook notification Bundles of topic-based subscriptions, as an EHR POSTs them to a subscriber, for tests of the
 * subscription receiver. Shapes follow:
 * - R4 (default): Subscriptions R5 Backport IG, profiles backport-subscription-notification-r4 and
 *   backport-subscription-status-r4 (HL7/fhir-subscription-backport-ig, input/fsh/BackportNotificationR4.fsh;
 *   examples r4-notification-handshake, -heartbeat, -id-only, -full-resource; rendered JSON at
 *   https://build.fhir.org/ig/HL7/fhir-subscription-backport-ig/Parameters-r4-notification-status.json.html):
 *   Bundle.type history, first entry a Parameters with subscription (valueReference), topic (valueCanonical),
 *   status, type (valueCode), events-since-subscription-start (valueString) and one notification-event per event
 *   (parts event-number valueString, timestamp valueInstant, focus valueReference, additional-context).
 * - R4B: the core SubscriptionStatus resource first (https://hl7.org/fhir/r4b/notification-id-only.json.html).
 * id-only sends only the focus references (the IG's R4 example has no other entry; `focusEntries` adds R4B-style
 * entries with fullUrl and request but no resource); full-resource adds one entry per event with the resource.
 */

export type NotificationFormat = 'r4-parameters' | 'r4b-subscription-status';

export interface NotificationBase {
  /** The Subscription, e.g. `https://ehr.example.org/fhir/Subscription/123`. */
  readonly subscription: string;
  /** The SubscriptionTopic's canonical URL. */
  readonly topic: string;
  /** Events since the subscription started, this notification's included (handshakes and heartbeats do not count). */
  readonly eventsSinceSubscriptionStart: number;
  /** Subscription status (default: requested for a handshake, else active). */
  readonly status?: 'requested' | 'active' | 'error' | 'off';
  /** Bundle.timestamp (default: the wall clock). */
  readonly timestamp?: string;
  /** Bundle id (default: a random uuid). */
  readonly id?: string;
  /** Default r4-parameters. */
  readonly format?: NotificationFormat;
}

export interface NotificationEvent {
  readonly eventNumber: number;
  /** The resource the event is about: `RelatedPerson/RP1-1` or an absolute URL. */
  readonly focus: string;
  /** The focus resource, sent in full-resource notifications (required there). */
  readonly resource?: FhirResource;
  readonly timestamp?: string;
  readonly additionalContext?: readonly string[];
  /** request.method of the focus entry (default PUT; POST for a create, DELETE for a removal). */
  readonly method?: 'POST' | 'PUT' | 'DELETE';
}

type Bundle = FhirResource & { entry: Record<string, unknown>[] };

const R4_BUNDLE_PROFILE = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-notification-r4';
const R4_STATUS_PROFILE = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4';

/** The `handshake` a server sends when a rest-hook subscription is created. */
export function handshakeNotification(base: NotificationBase): Bundle {
  return notification(base, 'handshake', [], []);
}

/** A `heartbeat`: no events, only the count so far. */
export function heartbeatNotification(base: NotificationBase): Bundle {
  return notification(base, 'heartbeat', [], []);
}

/**
 * An `event-notification`. `fhirBase` turns relative focus references into the entries' absolute fullUrls.
 * Throws when a full-resource event has no resource.
 */
export function eventNotification(
  base: NotificationBase & { content: 'id-only' | 'full-resource'; events: readonly NotificationEvent[]; fhirBase?: string; focusEntries?: boolean },
): Bundle {
  const entries = base.content === 'full-resource' || base.focusEntries === true ? base.events.map((e) => focusEntry(e, base.content, base.fhirBase)) : [];
  return notification(base, 'event-notification', base.events, entries);
}

/** POSTs a notification to a subscriber endpoint as application/fhir+json; returns the answer. */
export async function postNotification(
  url: string,
  bundle: unknown,
  headers: Readonly<Record<string, string>> = {},
): Promise<{ status: number; headers: Headers; body: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/fhir+json', ...headers }, body: JSON.stringify(bundle) });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

function notification(base: NotificationBase, type: string, events: readonly NotificationEvent[], rest: Record<string, unknown>[]): Bundle {
  const statusId = randomUUID();
  const status = base.status ?? (type === 'handshake' ? 'requested' : 'active');
  const timestamp = base.timestamp ?? new Date().toISOString();
  const r4b = base.format === 'r4b-subscription-status';
  const statusResource = r4b ? subscriptionStatus(statusId, base, status, type, events) : statusParameters(statusId, base, status, type, events);
  return {
    resourceType: 'Bundle',
    id: base.id ?? randomUUID(),
    ...(r4b ? {} : { meta: { profile: [R4_BUNDLE_PROFILE] } }),
    type: 'history',
    timestamp,
    entry: [
      { fullUrl: `urn:uuid:${statusId}`, resource: statusResource, request: { method: 'GET', url: `${base.subscription}/$status` }, response: { status: '200' } },
      ...rest,
    ],
  };
}

function statusParameters(id: string, base: NotificationBase, status: string, type: string, events: readonly NotificationEvent[]): FhirResource {
  return {
    resourceType: 'Parameters',
    id,
    meta: { profile: [R4_STATUS_PROFILE] },
    parameter: [
      { name: 'subscription', valueReference: { reference: base.subscription } },
      { name: 'topic', valueCanonical: base.topic },
      { name: 'status', valueCode: status },
      { name: 'type', valueCode: type },
      { name: 'events-since-subscription-start', valueString: String(base.eventsSinceSubscriptionStart) },
      ...events.map((e) => ({
        name: 'notification-event',
        part: [
          { name: 'event-number', valueString: String(e.eventNumber) },
          ...(e.timestamp === undefined ? [] : [{ name: 'timestamp', valueInstant: e.timestamp }]),
          { name: 'focus', valueReference: { reference: e.focus } },
          ...(e.additionalContext ?? []).map((reference) => ({ name: 'additional-context', valueReference: { reference } })),
        ],
      })),
    ],
  };
}

function subscriptionStatus(id: string, base: NotificationBase, status: string, type: string, events: readonly NotificationEvent[]): FhirResource {
  return {
    resourceType: 'SubscriptionStatus',
    id,
    status,
    type,
    eventsSinceSubscriptionStart: String(base.eventsSinceSubscriptionStart),
    ...(events.length === 0
      ? {}
      : {
          notificationEvent: events.map((e) => ({
            eventNumber: String(e.eventNumber),
            ...(e.timestamp === undefined ? {} : { timestamp: e.timestamp }),
            focus: { reference: e.focus },
            ...(e.additionalContext === undefined ? {} : { additionalContext: e.additionalContext.map((reference) => ({ reference })) }),
          })),
        }),
    subscription: { reference: base.subscription },
    topic: base.topic,
  };
}

function focusEntry(e: NotificationEvent, content: 'id-only' | 'full-resource', fhirBase: string | undefined): Record<string, unknown> {
  const fullUrl = /^[a-z]+:/i.test(e.focus) || fhirBase === undefined ? e.focus : `${fhirBase.replace(/\/$/, '')}/${e.focus}`;
  const relative = /([A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(e.focus)?.[1] ?? e.focus;
  const method = e.method ?? 'PUT';
  if (content === 'full-resource' && e.resource === undefined && method !== 'DELETE') throw new Error(`full-resource event ${e.eventNumber} has no resource`);
  return {
    fullUrl,
    ...(content === 'full-resource' && e.resource !== undefined ? { resource: e.resource } : {}),
    request: { method, url: method === 'POST' ? relative.split('/')[0] : relative },
    response: { status: method === 'POST' ? '201' : method === 'DELETE' ? '204' : '200' },
  };
}
