/**
 * Idempotency keys (DESIGN §5): deterministic, so a retry, a replay or a second daemon sends the same key for the
 * same side effect and the portal answers with the first result. Pure (node:crypto hashing only).
 */
import { createHash } from 'node:crypto';
import { emailKey } from './identity';
import type { Op, OpKind } from './plan/types';

/** The fields a key is derived from. */
export interface IdempotencyFields {
  /** The practice (tenant) id: the same op for two practices must never share a key. */
  readonly practice: string;
  readonly op: OpKind;
  readonly guardianKey: string;
  /** patientId (link, unlink), email-key (create-account), a digest of the change (update-account), or ''. */
  readonly target: string;
  /** The welcome trigger (`created`, `resend:42`…), '' when none. */
  readonly trigger: string;
}

/**
 * sha256, hex (64 characters), of the fields as a JSON array: unambiguous whatever the fields contain
 * (no separator can be forged by a field value). Deterministic; every field changes the key.
 */
export function idempotencyKey(fields: IdempotencyFields): string {
  const text = JSON.stringify([fields.practice, fields.op, fields.guardianKey, fields.target, fields.trigger]);
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * The idempotency key of an op. Targets: create-account → email-key; link / unlink → patientId;
 * update-account → the changes themselves (new email-key, name, cell phone, enable), so two different updates of
 * one account never share a key while a retried one does; disable-account and send-welcome → ''.
 * Trigger: send-welcome's trigger, else ''. (Links are PUT/DELETE on the portal and idempotent by nature; their
 * key only guards the request itself.)
 */
export function opIdempotencyKey(practice: string, op: Op): string {
  return idempotencyKey({ practice, op: op.kind, guardianKey: op.guardianKey, target: targetOf(op), trigger: op.kind === 'send-welcome' ? op.trigger : '' });
}

function targetOf(op: Op): string {
  switch (op.kind) {
    case 'create-account':
      return emailKey(op.email) ?? '';
    case 'update-account':
      return JSON.stringify([emailKey(op.email) ?? null, op.name === undefined ? null : [op.name.given, op.name.family], op.cellPhone ?? null, op.enable === true]);
    case 'link':
    case 'unlink':
      return op.patientId;
    case 'disable-account':
    case 'send-welcome':
      return '';
    default:
      return op satisfies never;
  }
}
