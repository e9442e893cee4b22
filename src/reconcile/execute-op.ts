import { opIdempotencyKey, idempotencyKey } from '../core/idempotency';
import type { Snapshot } from '../core/model';
import type { Op } from '../core/plan';
import { BridgeError, isBridgeError } from '../errors';
import type { PortalAccount } from '../portal/port';
import type { StoreOps } from '../store';
import type { InvitationRecord } from '../store/ledger';
import type { ReconcileDeps } from './reconcile-guardian';

/** What one op needs: the reconcile dependencies it uses, plus this run's neighbourhood and provenance. */
export interface ExecuteContext extends Pick<ReconcileDeps, 'store' | 'portal' | 'practice' | 'invitation' | 'now'> {
  /** The guardian's neighbourhood: the dependents' names and birth dates the portal asks for. */
  readonly snapshot: Snapshot;
  readonly inboxId?: number;
  readonly jobId?: number;
}

/** The account being worked on: set by create-account, read by every later op of the same plan. */
export interface AccountCursor {
  account?: PortalAccount;
}

/** An op's intent, recorded before its portal call: its side-effect row and, for a welcome, the claimed invitation. */
export interface RecordedIntent {
  readonly key: string;
  readonly target: string;
  readonly claimed?: InvitationRecord;
}

/**
 * Runs one op (DESIGN §5): record the intent → call the portal with the op's deterministic idempotency key →
 * record the result with the ledger change and an audit row, in one transaction. No portal call runs inside a
 * transaction. A welcome is sent at most once per (guardian, trigger): the invitations row is claimed with the
 * intent and a `sent` row is never sent again, whatever replays, retries or crashes happen. Portal errors are
 * recorded and rethrown for the job's retry policy.
 *
 * `next`: the op the plan runs after this one. Its intent is recorded in this op's result transaction and
 * returned, to be passed back as `intent` for it — still before its call, one commit fewer per op. `intent`: this
 * op's, recorded that way (otherwise it is recorded here, in its own transaction).
 */
export async function executeOp(ctx: ExecuteContext, op: Op, cursor: AccountCursor, chain: { intent?: RecordedIntent; next?: Op } = {}): Promise<RecordedIntent | undefined> {
  const { store } = ctx;
  // A welcome's intent is two rows (side effect, invitation claim): one transaction. Other intents: one statement.
  const intent = chain.intent ?? (op.kind === 'send-welcome' ? await store.transaction((tx) => recordIntent(tx, ctx, op)) : await recordIntent(store, ctx, op));
  const { key, target } = intent;
  try {
    const status = await call(ctx, op, intent, cursor);
    if (status === 'skipped') return undefined;
    return await store.transaction(async (tx) => {
      await recordLedger(tx, ctx, op, cursor);
      await tx.ledger.recordSideEffectResult(key, { status: 'done', portalStatus: status }, { now: ctx.now() });
      await tx.audit.appendAudit([{ at: ctx.now(), actor: 'daemon', guardianKey: op.guardianKey, ...(target !== '' && op.kind !== 'send-welcome' && { patientId: target }), op: op.kind, idempotencyKey: key, portalStatus: status, ...(ctx.inboxId !== undefined && { inboxId: ctx.inboxId }), ...(op.kind === 'send-welcome' && { detail: { trigger: op.trigger } }) }]);
      return chain.next === undefined ? undefined : recordIntent(tx, ctx, chain.next);
    });
  } catch (e) {
    const code = isBridgeError(e) ? e.code : 'ERR_PORTAL_UNEXPECTED';
    await store.ledger.recordSideEffectResult(key, { status: 'failed', ...(isBridgeError(e) && e.status !== undefined && { portalStatus: e.status }), errorCode: code }, { now: ctx.now() });
    await store.audit.appendAudit([{ at: ctx.now(), actor: 'daemon', guardianKey: op.guardianKey, op: op.kind, idempotencyKey: key, ...(isBridgeError(e) && e.status !== undefined && { portalStatus: e.status }), detail: { error: code } }]);
    throw e;
  }
}

/** Records an op's intent (the side-effect row; for a welcome, also the claim on its invitations row). */
async function recordIntent(tx: StoreOps, ctx: ExecuteContext, op: Op): Promise<RecordedIntent> {
  const key = opIdempotencyKey(ctx.practice, op);
  const target = op.kind === 'link' || op.kind === 'unlink' ? op.patientId : op.kind === 'send-welcome' ? op.trigger : '';
  await tx.ledger.recordSideEffectIntent({ idempotencyKey: key, guardianKey: op.guardianKey, op: op.kind, target }, { now: ctx.now() });
  if (op.kind !== 'send-welcome') return { key, target };
  const claimed = await tx.ledger.recordInvitationIntent({ idempotencyKey: key, guardianKey: op.guardianKey, trigger: op.trigger }, { now: ctx.now() });
  return { key, target, claimed };
}

/** The portal call; the HTTP status it stands for, or 'skipped' when the ledger shows it happened already. */
async function call(ctx: ExecuteContext, op: Op, intent: RecordedIntent, cursor: AccountCursor): Promise<number | 'skipped'> {
  const { key } = intent;
  const { portal } = ctx;
  switch (op.kind) {
    case 'create-account':
      cursor.account = await portal.createAccount(
        { externalId: op.guardianKey, email: op.email, givenName: op.name.given, familyName: op.name.family, ...(op.cellPhone !== undefined && { cellPhone: op.cellPhone }) },
        key,
      );
      return 201;
    case 'update-account': {
      const account = need(cursor);
      cursor.account = await portal.updateAccount(
        account.id,
        { ...(op.email !== undefined && { email: op.email }), ...(op.name !== undefined && { givenName: op.name.given, familyName: op.name.family }), ...(op.cellPhone !== undefined && { cellPhone: op.cellPhone }), ...(op.enable === true && { enable: true }) },
        account.version,
        key,
      );
      return 200;
    }
    case 'link': {
      const patient = ctx.snapshot.patients.get(op.patientId);
      await portal.linkDependent(need(cursor).id, op.patientId, { accessLevel: op.accessLevel, patient: { givenName: patient?.name.given ?? '', familyName: patient?.name.family ?? '', ...(patient?.birthDate !== undefined && { birthDate: patient.birthDate }) } }, key);
      return 200;
    }
    case 'unlink':
      await portal.unlinkDependent(need(cursor).id, op.patientId, key);
      return 204;
    case 'disable-account':
      await portal.disableAccount(need(cursor).id, key);
      return 200;
    case 'send-welcome': {
      const { claimed } = intent;
      if (claimed === undefined) throw new BridgeError('ERR_PORTAL_UNEXPECTED', 'a welcome without its claimed invitations row');
      if (claimed.status === 'sent') return 'skipped';
      // The key of the claimed row: a welcome first tried under another key (e.g. before a re-key) keeps its key.
      await portal.sendInvitation({ accountId: need(cursor).id, ...ctx.invitation, trigger: op.trigger }, claimed.idempotencyKey);
      return 202;
    }
    default:
      return op satisfies never;
  }
}

async function recordLedger(tx: StoreOps, ctx: ExecuteContext, op: Op, cursor: AccountCursor): Promise<void> {
  const now = { now: ctx.now() };
  switch (op.kind) {
    case 'create-account':
    case 'update-account': {
      const account = need(cursor);
      // A name or cell phone the op does not set keeps the ledger's (keepKnown: no read of the row first).
      await tx.ledger.upsertAccount(
        { guardianKey: op.guardianKey, portalId: account.id, email: account.email, status: account.status, createdBy: account.createdBy, ...(op.name !== undefined && { name: op.name }), ...(op.cellPhone !== undefined && { cellPhone: op.cellPhone }), version: account.version },
        { ...now, keepKnown: true },
      );
      return;
    }
    case 'link':
      await tx.ledger.upsertLink({ guardianKey: op.guardianKey, patientId: op.patientId, accessLevel: op.accessLevel, status: 'linked' }, now);
      return;
    case 'unlink': {
      const link = (await tx.ledger.listLinks(op.guardianKey)).find((l) => l.patientId === op.patientId);
      await tx.ledger.upsertLink({ guardianKey: op.guardianKey, patientId: op.patientId, accessLevel: link?.accessLevel ?? 'full', status: 'unlinked' }, now);
      return;
    }
    case 'disable-account':
      await tx.ledger.setAccountStatus(op.guardianKey, 'disabled', now);
      return;
    case 'send-welcome': {
      const claimed = await tx.ledger.getInvitation({ guardianKey: op.guardianKey, trigger: op.trigger });
      if (claimed !== undefined) await tx.ledger.recordInvitationResult(claimed.idempotencyKey, { status: 'sent' }, now);
      // One welcome answers every trigger pending with it (plan's `covers`): record them as sent too.
      for (const trigger of op.covers ?? []) {
        const k = idempotencyKey({ practice: ctx.practice, op: 'send-welcome', guardianKey: op.guardianKey, target: '', trigger });
        const row = await tx.ledger.recordInvitationIntent({ idempotencyKey: k, guardianKey: op.guardianKey, trigger }, now);
        await tx.ledger.recordInvitationResult(row.idempotencyKey, { status: 'sent' }, now);
      }
      return;
    }
    default:
      return op satisfies never;
  }
}

function need(cursor: AccountCursor): PortalAccount {
  if (cursor.account === undefined) throw new BridgeError('ERR_PORTAL_UNEXPECTED', 'no portal account to act on (the plan ran out of order)');
  return cursor.account;
}
