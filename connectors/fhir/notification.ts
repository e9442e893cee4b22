/**
 * Reading a topic-based subscription notification (FHIR R5 Subscriptions Backport IG for R4 and R4B; R5): a
 * Bundle of type `history` (R4/R4B) or `subscription-notification` (R5) whose first entry is the status —
 * `Parameters` in the R4 backport, `SubscriptionStatus` in R4B/R5 — followed by the focus resources when the
 * payload is `full-resource` (none for `id-only`). Pure.
 */

export type NotificationType = 'handshake' | 'heartbeat' | 'event-notification' | 'query-status' | 'query-event';

export interface NotificationEvent {
  readonly eventNumber?: number;
  /** `Patient/123` (the focus reference, version and base removed). */
  readonly focus?: { readonly type: string; readonly id: string };
}

export interface Notification {
  readonly type: NotificationType;
  /** The Subscription's reference as sent (`Subscription/abc`), '' when absent. */
  readonly subscription: string;
  /** Events the server has sent on this subscription since it started (a gap means we missed some). */
  readonly eventsSinceStart?: number;
  readonly events: readonly NotificationEvent[];
  /** Resources the notification carries (full-resource payloads), excluding the status entry. */
  readonly resources: readonly unknown[];
}

const TYPES = new Set<NotificationType>(['handshake', 'heartbeat', 'event-notification', 'query-status', 'query-event']);

type Json = Record<string, unknown>;

/** The notification in a body, or a one-line reason (no patient data) why it is not one. */
export function readNotification(body: unknown): Notification | string {
  if (!isObject(body) || body.resourceType !== 'Bundle') return 'the body is not a FHIR Bundle';
  const entries = Array.isArray(body.entry) ? body.entry : [];
  const status = entries.map((e) => (isObject(e) ? e.resource : undefined)).find((r) => isObject(r) && (r.resourceType === 'Parameters' || r.resourceType === 'SubscriptionStatus'));
  if (!isObject(status)) return 'the Bundle has no Parameters or SubscriptionStatus entry (not a subscription notification)';
  const read = status.resourceType === 'Parameters' ? fromParameters(status) : fromSubscriptionStatus(status);
  if (typeof read === 'string') return read;
  const resources = entries.map((e) => (isObject(e) ? e.resource : undefined)).filter((r) => isObject(r) && r !== status);
  return { ...read, resources };
}

function fromParameters(p: Json): Omit<Notification, 'resources'> | string {
  const params = Array.isArray(p.parameter) ? p.parameter.filter(isObject) : [];
  const named = (list: readonly Json[], name: string): Json[] => list.filter((x) => x.name === name);
  const type = valueOf(named(params, 'type')[0]);
  if (!TYPES.has(type as NotificationType)) return `unknown notification type "${String(type ?? '')}"`;
  const events = named(params, 'notification-event').map((ev): NotificationEvent => {
    const parts = Array.isArray(ev.part) ? ev.part.filter(isObject) : [];
    const number = toNumber(valueOf(named(parts, 'event-number')[0]));
    const focus = referenceOf(named(parts, 'focus')[0]?.valueReference);
    return { ...(number !== undefined && { eventNumber: number }), ...(focus !== undefined && { focus }) };
  });
  const since = toNumber(valueOf(named(params, 'events-since-subscription-start')[0]));
  const subscription = named(params, 'subscription')[0]?.valueReference;
  return {
    type: type as NotificationType,
    subscription: isObject(subscription) && typeof subscription.reference === 'string' ? subscription.reference : '',
    ...(since !== undefined && { eventsSinceStart: since }),
    events,
  };
}

function fromSubscriptionStatus(s: Json): Omit<Notification, 'resources'> | string {
  const type = s.type;
  if (!TYPES.has(type as NotificationType)) return `unknown notification type "${String(type ?? '')}"`;
  const list = Array.isArray(s.notificationEvent) ? s.notificationEvent.filter(isObject) : [];
  const events = list.map((ev): NotificationEvent => {
    const number = toNumber(ev.eventNumber);
    const focus = referenceOf(ev.focus);
    return { ...(number !== undefined && { eventNumber: number }), ...(focus !== undefined && { focus }) };
  });
  const since = toNumber(s.eventsSinceSubscriptionStart);
  const subscription = s.subscription;
  return {
    type: type as NotificationType,
    subscription: isObject(subscription) && typeof subscription.reference === 'string' ? subscription.reference : '',
    ...(since !== undefined && { eventsSinceStart: since }),
    events,
  };
}

/** The value[x] of a Parameters parameter. */
function valueOf(p: Json | undefined): unknown {
  if (p === undefined) return undefined;
  const key = Object.keys(p).find((k) => k.startsWith('value'));
  return key === undefined ? undefined : p[key];
}

function toNumber(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : Number.NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** `Patient/123`, `https://ehr/fhir/Patient/123/_history/4` → {type: Patient, id: 123}. */
export function referenceOf(ref: unknown): { type: string; id: string } | undefined {
  const text = isObject(ref) ? ref.reference : undefined;
  if (typeof text !== 'string') return undefined;
  const m = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(text);
  return m === null ? undefined : { type: m[1] as string, id: m[2] as string };
}

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
