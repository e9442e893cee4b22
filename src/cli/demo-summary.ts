/**
 * What `portal-bridge demo` shows for one case, read back from where the daemon left it: the ledger (accounts
 * and dependents), the sandbox's outbox (welcomes), the audit trail (each guardian's latest decisions and plan
 * holds), the conflicts table and the rejected inbox rows. Names and reasons in words come from the pure
 * decision core run over the stored snapshot.
 */
import { decide, formatReason, RULE_IDS, type RuleId } from '../core/eligibility';
import type { Mapping } from '../core/mapping/types';
import type { PersonName } from '../core/model';
import type { SandboxControl } from '../portal/sandbox';
import type { AuditRow, Store } from '../store';
import type { DemoCase } from './demo-run';

export interface DemoAccount {
  readonly person: string;
  readonly email: string;
  readonly guardianKey: string;
  readonly status: string;
  readonly dependents: readonly { readonly patientId: string; readonly accessLevel: string }[];
  /** Welcomes the sandbox sent to this account (its outbox, by externalId). */
  readonly welcomes: number;
}

/** A decision other than access granted: held for staff, or no access (skip / unlink). */
export interface DemoNote {
  readonly person: string;
  readonly patientId?: string;
  readonly outcome: string;
  readonly rule?: string;
  readonly reason: string;
}

export interface DemoConflict {
  readonly emailKey: string;
  readonly people: readonly string[];
  readonly patientIds: readonly string[];
  readonly reason: string;
}

export interface CaseSummary {
  readonly name: string;
  readonly description?: string;
  readonly accounts: readonly DemoAccount[];
  readonly welcomes: number;
  readonly holds: readonly DemoNote[];
  readonly conflicts: readonly DemoConflict[];
  readonly noAccess: readonly DemoNote[];
  readonly rejected: readonly { readonly controlId?: string; readonly code?: string; readonly error?: string }[];
  /** How the daemon's result differs from the case's expected.yaml (accounts, conflicts, decisions); [] = none. */
  readonly differences: readonly string[];
}

const LIMIT = 10_000;

export async function summariseCase(input: { store: Store; sandbox: SandboxControl; mapping: Mapping; asOf: string; c: DemoCase }): Promise<CaseSummary> {
  const { store, c } = input;
  const snapshot = await store.snapshots.loadSnapshot({ patientIds: await store.snapshots.listPatientIds({ limit: LIMIT }) });
  const current = decide(snapshot, input.mapping.policy, input.asOf).decisions;
  const personOf = (key: string, patientId?: string): string => {
    const d = current.find((x) => x.guardianKey === key && (patientId === undefined || x.patientId === patientId)) ?? current.find((x) => x.guardianKey === key);
    return d === undefined ? key : fullName(d.contact.name);
  };
  const reasonOf = (key: string, patientId: string | undefined, rule: string | undefined): string =>
    current.find((x) => x.guardianKey === key && x.patientId === patientId && x.rule === rule)?.reason ?? (isRule(rule) ? formatReason(rule) : (rule ?? ''));

  const outbox = await input.sandbox.outbox();
  const accounts: DemoAccount[] = [];
  for (const a of await store.ledger.listAccounts({ limit: LIMIT })) {
    const links = (await store.ledger.listLinks(a.guardianKey)).filter((l) => l.status !== 'unlinked');
    accounts.push({
      person: personOf(a.guardianKey),
      email: a.email,
      guardianKey: a.guardianKey,
      status: a.status,
      dependents: links.map((l) => ({ patientId: l.patientId, accessLevel: l.accessLevel })),
      welcomes: outbox.filter((o) => o.externalId === a.guardianKey).length,
    });
  }

  const latest = latestRuns(await store.audit.listAudit({ limit: LIMIT }));
  const decisions = latest.filter((r) => r.op?.startsWith('decide:') === true);
  const note = (r: AuditRow, outcome: string, reason: string): DemoNote => ({
    person: personOf(r.guardianKey ?? '', r.patientId),
    ...(r.patientId !== undefined && { patientId: r.patientId }),
    outcome,
    ...(r.rule !== undefined && { rule: r.rule }),
    reason,
  });
  const outcomeOf = (r: AuditRow): string => (r.op ?? '').slice('decide:'.length);
  const holds = [
    ...decisions.filter((r) => outcomeOf(r) === 'hold').map((r) => note(r, 'hold', reasonOf(r.guardianKey ?? '', r.patientId, r.rule))),
    ...latest.filter((r) => r.op === 'hold').map((r) => note(r, 'hold', String(r.detail?.['reason'] ?? r.rule ?? ''))),
  ];
  const noAccess = decisions.filter((r) => ['skip', 'unlink'].includes(outcomeOf(r))).map((r) => note(r, outcomeOf(r), reasonOf(r.guardianKey ?? '', r.patientId, r.rule)));
  const conflicts = (await store.conflicts.listConflicts({ limit: LIMIT })).map((k) => ({
    emailKey: k.emailKey,
    people: k.guardianKeys.map((g) => personOf(g)),
    patientIds: k.patientIds,
    reason: current.find((d) => d.outcome === 'conflict' && k.guardianKeys.includes(d.guardianKey))?.reason ?? formatReason('R12'),
  }));
  const rejected = (await store.inbox.listRejected({ limit: LIMIT })).reverse().map((r) => ({
    ...(r.controlId !== undefined && { controlId: r.controlId }),
    ...(r.errorCode !== undefined && { code: r.errorCode }),
    ...(r.error !== undefined && { error: r.error }),
  }));

  const gotDecisions = decisions.map((r) => `${r.patientId ?? '?'} / ${personOf(r.guardianKey ?? '', r.patientId)}: ${outcomeOf(r)} ${r.rule ?? '?'}`);
  const differences = [
    ...setDiff('account', c.expected.accounts.map((a) => accountLine(a.email, a.dependents.map((d) => (typeof d === 'string' ? { patientId: d, accessLevel: 'full' } : d)))), accounts.filter((a) => a.dependents.length > 0).map((a) => accountLine(a.email, a.dependents))),
    ...setDiff('conflict', c.expected.conflicts.map((k) => conflictLine(k.emailKey, k.patientIds)), conflicts.map((k) => conflictLine(k.emailKey, k.patientIds))),
    ...setDiff('decision', c.expected.decisions.map((d) => `${d.patientId} / ${d.contact.trim()}: ${d.outcome} ${d.rule}`), gotDecisions),
  ];

  return {
    name: c.name,
    ...(c.expected.description !== undefined && { description: c.expected.description }),
    accounts,
    welcomes: outbox.length,
    holds,
    conflicts,
    noAccess,
    rejected,
    differences,
  };
}

/**
 * The audit rows of each guardian's latest reconcile run (one run writes its rows with one time), oldest first.
 * A guardian whose latest row is a hand-over to a new key (`rekey`) has none: the new key speaks for them.
 */
function latestRuns(newestFirst: readonly AuditRow[]): AuditRow[] {
  const runAt = new Map<string, string | null>();
  for (const r of newestFirst) {
    const key = r.guardianKey;
    if (key === undefined || runAt.has(key)) continue;
    runAt.set(key, r.op === 'rekey' ? null : r.at);
  }
  return newestFirst.filter((r) => r.guardianKey !== undefined && runAt.get(r.guardianKey) === r.at && r.op !== 'rekey').reverse();
}

function accountLine(email: string, dependents: readonly { patientId: string; accessLevel: string }[]): string {
  const deps = dependents.map((d) => (d.accessLevel === 'full' ? d.patientId : `${d.patientId} (${d.accessLevel})`)).sort();
  return `${email.toLowerCase()} → ${deps.join(', ')}`;
}

function conflictLine(emailKey: string, patientIds: readonly string[]): string {
  return `${emailKey} on ${[...patientIds].sort().join(', ')}`;
}

function setDiff(what: string, want: readonly string[], got: readonly string[]): string[] {
  const missing = want.filter((w) => !got.includes(w)).map((w) => `expected ${what} ${w}, but the daemon has none`);
  const extra = got.filter((g) => !want.includes(g)).map((g) => `unexpected ${what} ${g}`);
  return [...missing, ...extra];
}

function isRule(rule: string | undefined): rule is RuleId {
  return (RULE_IDS as readonly string[]).includes(rule ?? '');
}

function fullName(name: PersonName): string {
  return `${name.given} ${name.family}`.trim() || '(no name)';
}
