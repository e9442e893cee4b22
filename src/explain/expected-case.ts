import { parse } from 'yaml';
import { z } from 'zod';
import { OUTCOMES, RULE_IDS } from '../core/eligibility';
import type { ExplainJson } from './report';

const dependent = z.union([z.string().min(1), z.strictObject({ patientId: z.string().min(1), accessLevel: z.enum(['full', 'limited']).default('full') })]);

/** `expected.yaml` of an analyst's example case (`mappings test`). All three lists are required ([] = none). */
export const ExpectedCaseSchema = z.strictObject({
  description: z.string().optional(),
  mapping: z.string().min(1).optional(),
  asOf: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date written YYYY-MM-DD'),
  inputs: z.array(z.strictObject({ status: z.enum(['accepted', 'rejected']), error: z.string().optional() })).optional(),
  accounts: z.array(z.strictObject({ email: z.string().min(1), guardianKey: z.string().optional(), dependents: z.array(dependent).min(1) })),
  conflicts: z.array(z.strictObject({ emailKey: z.string().min(1), guardianKeys: z.array(z.string()).optional(), patientIds: z.array(z.string()).min(1) })),
  decisions: z.array(
    z.strictObject({
      patientId: z.string().min(1),
      contact: z.string().describe('"Given Family" as in the input'),
      outcome: z.enum(OUTCOMES),
      rule: z.enum(RULE_IDS),
      reason: z.string().optional().describe('a substring of the reason'),
    }),
  ),
});
export type ExpectedCase = z.infer<typeof ExpectedCaseSchema>;

/** Parses expected.yaml text; problems are returned as lines (path: message). */
export function parseExpected(text: string): { ok: true; value: ExpectedCase } | { ok: false; problems: string[] } {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (e) {
    return { ok: false, problems: [e instanceof Error ? (e.message.split('\n')[0] ?? e.message) : String(e)] };
  }
  const r = ExpectedCaseSchema.safeParse(raw);
  return r.success ? { ok: true, value: r.data } : { ok: false, problems: r.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`) };
}

/** Every difference between what a case expects and what explain produced, in words; [] when it passes. */
export function compareCase(expected: ExpectedCase, actual: ExplainJson): string[] {
  const diffs: string[] = [];
  if (expected.inputs !== undefined) {
    expected.inputs.forEach((e, i) => {
      const a = actual.inputs[i];
      if (a === undefined) diffs.push(`input #${i}: expected ${e.status}, but there is no such input`);
      else if (a.status !== e.status) diffs.push(`input #${i} (${a.file}): expected ${e.status}, got ${a.status}${a.error ? ` (${a.error})` : ''}`);
      else if (e.error !== undefined && !(a.error ?? '').includes(e.error)) diffs.push(`input #${i}: error "${a.error ?? ''}" does not contain "${e.error}"`);
    });
    if (actual.inputs.length !== expected.inputs.length) diffs.push(`expected ${expected.inputs.length} input message(s), got ${actual.inputs.length}`);
  } else {
    for (const a of actual.inputs) if (a.status === 'rejected') diffs.push(`input ${a.file}#${a.index} was rejected: ${a.error ?? ''}`);
  }

  const accountKey = (email: string, deps: string[]): string => `${email.toLowerCase()} → ${deps.sort().join(', ')}`;
  const depLabel = (id: string, level: string): string => (level === 'full' ? id : `${id} (${level})`);
  const wantAccounts = expected.accounts.map((a) => accountKey(a.email, a.dependents.map((d) => (typeof d === 'string' ? d : depLabel(d.patientId, d.accessLevel)))));
  const gotAccounts = actual.accounts.map((a) => accountKey(a.email, a.dependents.map((d) => depLabel(d.patientId, d.accessLevel))));
  diffs.push(...setDiff('account', wantAccounts, gotAccounts));
  for (const a of expected.accounts) {
    if (a.guardianKey === undefined) continue;
    const got = actual.accounts.find((x) => x.email.toLowerCase() === a.email.toLowerCase());
    if (got !== undefined && got.guardianKey !== a.guardianKey) diffs.push(`account ${a.email}: guardian key ${got.guardianKey}, expected ${a.guardianKey}`);
  }

  const conflictKey = (emailKey: string, patients: string[], guardians?: string[]): string =>
    `${emailKey} on ${[...patients].sort().join(', ')}${guardians ? ` by ${[...guardians].sort().join(', ')}` : ''}`;
  diffs.push(
    ...setDiff(
      'conflict',
      expected.conflicts.map((c) => conflictKey(c.emailKey, c.patientIds, c.guardianKeys)),
      actual.conflicts.map((c) => {
        const exp = expected.conflicts.find((e) => e.emailKey === c.emailKey);
        return conflictKey(c.emailKey, c.patientIds, exp?.guardianKeys === undefined ? undefined : c.guardianKeys);
      }),
    ),
  );

  const decisionKey = (patientId: string, contact: string, outcome: string, rule: string): string => `${patientId} / ${contact.trim()}: ${outcome} ${rule}`;
  diffs.push(
    ...setDiff(
      'decision',
      expected.decisions.map((d) => decisionKey(d.patientId, d.contact, d.outcome, d.rule)),
      actual.decisions.map((d) => decisionKey(d.patientId, `${d.contact.givenName} ${d.contact.familyName}`, d.outcome, d.rule)),
    ),
  );
  for (const d of expected.decisions) {
    if (d.reason === undefined) continue;
    const got = actual.decisions.find((a) => a.patientId === d.patientId && `${a.contact.givenName} ${a.contact.familyName}`.trim() === d.contact.trim());
    if (got !== undefined && !got.reason.includes(d.reason)) diffs.push(`decision ${d.patientId} / ${d.contact}: reason "${got.reason}" does not contain "${d.reason}"`);
  }
  return diffs;
}

function setDiff(what: string, want: readonly string[], got: readonly string[]): string[] {
  const missing = [...want];
  const extra: string[] = [];
  for (const g of got) {
    const i = missing.indexOf(g);
    if (i >= 0) missing.splice(i, 1);
    else extra.push(g);
  }
  return [...missing.map((m) => `missing ${what}: ${m}`), ...extra.map((e) => `unexpected ${what}: ${e}`)];
}
