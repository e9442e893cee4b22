/** Accounts: find, create, read, update (If-Match), disable — DESIGN §7.1. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { emailKey } from '../../../core/identity';
import type { SandboxContext } from '../context';
import { faultableRoute } from '../pipeline';
import { ProblemError, type Answer } from '../problem';
import { accountJson, etagOf, ifMatchAccepts } from '../representation';
import { AccountPatchBody, NewAccountBody, parseBody } from '../schemas';
import type { AccountRow, AccountStatus } from '../store/accounts';

/** The account with `id`, or a 404 problem. */
export function loadAccount(ctx: SandboxContext, id: string): AccountRow {
  const row = ctx.accounts.byId(id);
  if (row === undefined) throw new ProblemError(404, 'account_not_found', 'No account has this id.');
  return row;
}

/** An answer carrying the account, its ETag and (on 201) its Location. */
export function accountAnswer(ctx: SandboxContext, row: AccountRow, status = 200): Answer {
  const headers: Record<string, string> = { etag: etagOf(row) };
  if (status === 201) headers.location = `/v1/accounts/${encodeURIComponent(row.id)}`;
  return { status, body: accountJson(row, ctx.accounts.links(row.id)), headers };
}

/** Writes a changed account: bumps its version, and records a change when its status moved. */
export function saveAccount(ctx: SandboxContext, before: AccountRow, after: AccountRow): AccountRow {
  const saved: AccountRow = { ...after, version: before.version + 1, updated_at: ctx.now().toISOString() };
  ctx.accounts.update(saved);
  if (saved.status !== before.status) recordChange(ctx, saved, saved.status);
  return saved;
}

/** Appends to the changes feed. */
export function recordChange(ctx: SandboxContext, row: AccountRow, status: AccountStatus): void {
  ctx.feed.record({ accountId: row.id, externalId: row.external_id, status, at: ctx.now().toISOString() });
}

/** Refuses an email another account uses (compared lower-cased and trimmed). */
export function assertEmailFree(ctx: SandboxContext, key: string, selfId?: string): void {
  const holder = ctx.accounts.byEmailKey(key);
  if (holder !== undefined && holder.id !== selfId) throw new ProblemError(409, 'email_in_use', 'Another account uses this email.');
}

/** Creates an account row (status `invited` unless told) and records the creation in the feed. */
export function insertAccount(ctx: SandboxContext, body: { externalId: string; email: string; givenName: string; familyName: string; cellPhone?: string | undefined }, createdBy: 'bridge' | 'staff', status: 'invited' | 'active' = 'invited'): AccountRow {
  const key = emailKey(body.email) ?? '';
  assertEmailFree(ctx, key);
  if (ctx.accounts.byExternalId(body.externalId) !== undefined) {
    throw new ProblemError(409, 'external_id_in_use', 'Another account has this externalId.');
  }
  const at = ctx.now().toISOString();
  const row: AccountRow = {
    id: ctx.newId('acc'), external_id: body.externalId, email: body.email, email_key: key, given_name: body.givenName, family_name: body.familyName,
    cell_phone: body.cellPhone ?? null, status, created_by: createdBy, version: 1, activated_at: status === 'active' ? at : null, created_at: at, updated_at: at,
  };
  ctx.accounts.insert(row);
  recordChange(ctx, row, status);
  return row;
}

function idParam(req: FastifyRequest): string {
  return (req.params as { id: string }).id;
}

function find(ctx: SandboxContext, req: FastifyRequest): Answer {
  const q = req.query as Record<string, unknown>;
  const externalId = typeof q.externalId === 'string' ? q.externalId : undefined;
  const email = typeof q.email === 'string' ? emailKey(q.email) : undefined;
  if ((externalId === undefined) === (email === undefined)) {
    throw new ProblemError(400, 'invalid_query', 'Give exactly one of externalId and email.');
  }
  const row = externalId !== undefined ? ctx.accounts.byExternalId(externalId) : ctx.accounts.byEmailKey(email ?? '');
  return { status: 200, body: row === undefined ? [] : [accountJson(row, ctx.accounts.links(row.id))] };
}

function update(ctx: SandboxContext, req: FastifyRequest): Answer {
  const row = loadAccount(ctx, idParam(req));
  const ifMatch = req.headers['if-match'];
  if (ifMatch === undefined) throw new ProblemError(428, 'precondition_required', 'Send If-Match with the account version (its ETag).');
  const patch = parseBody(AccountPatchBody, req.body);
  if (!ifMatchAccepts(ifMatch, row)) throw new ProblemError(412, 'precondition_failed', 'The account changed since it was read.');
  const next: AccountRow = { ...row };
  if (patch.email !== undefined) {
    const key = emailKey(patch.email) ?? '';
    assertEmailFree(ctx, key, row.id);
    next.email = patch.email;
    next.email_key = key;
  }
  if (patch.givenName !== undefined) next.given_name = patch.givenName;
  if (patch.familyName !== undefined) next.family_name = patch.familyName;
  if (patch.cellPhone !== undefined) next.cell_phone = patch.cellPhone;
  if (patch.enable === true && row.status === 'disabled') next.status = row.activated_at === null ? 'invited' : 'active';
  const changed = (['email', 'given_name', 'family_name', 'cell_phone', 'status'] as const).some((f) => next[f] !== row[f]);
  return accountAnswer(ctx, changed ? saveAccount(ctx, row, next) : row);
}

function disable(ctx: SandboxContext, req: FastifyRequest): Answer {
  const row = loadAccount(ctx, idParam(req));
  return accountAnswer(ctx, row.status === 'disabled' ? row : saveAccount(ctx, row, { ...row, status: 'disabled' }));
}

/** Registers the account routes. */
export function accountRoutes(app: FastifyInstance, ctx: SandboxContext): void {
  app.get('/v1/accounts', faultableRoute(ctx, 'ignored', (req) => find(ctx, req)));
  app.post('/v1/accounts', faultableRoute(ctx, 'required', (req) => accountAnswer(ctx, insertAccount(ctx, parseBody(NewAccountBody, req.body), 'bridge'), 201)));
  app.get('/v1/accounts/:id', faultableRoute(ctx, 'ignored', (req) => accountAnswer(ctx, loadAccount(ctx, idParam(req)))));
  app.patch('/v1/accounts/:id', faultableRoute(ctx, 'optional', (req) => update(ctx, req)));
  app.post('/v1/accounts/:id/disable', faultableRoute(ctx, 'ignored', (req) => disable(ctx, req)));
}
