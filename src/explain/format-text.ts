import type { Explanation, ExplainJson } from './report';

/** Column-aligned rows; the last column is left ragged so long reasons stay readable. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].map((l) => `  ${l}`).join('\n');
}

/** The human form of `mappings explain`: inputs, decisions, accounts and conflicts, each as a table. */
export function formatExplanation(json: ExplainJson, x: Explanation): string {
  const out: string[] = [];
  const outcomes = x.outcomes;
  const rejected = outcomes.filter((o) => o.status === 'rejected').length;
  out.push(`Inputs: ${outcomes.length} message(s), ${outcomes.length - rejected} accepted, ${rejected} rejected`);
  out.push(
    table(
      ['FILE', '#', 'CONTROL ID', 'EVENT', 'STATUS'],
      outcomes.map((o) => [o.file, String(o.index), o.controlId ?? '-', o.event ?? '-', o.status === 'accepted' ? (o.applied ? 'accepted' : 'accepted (older than stored data: no change)') : `rejected: ${o.error ?? ''}`]),
    ),
  );
  const warned = outcomes.filter((o) => o.warnings.length > 0);
  for (const o of warned) for (const w of o.warnings) out.push(`  warning ${o.file}#${o.index}: ${w}`);

  out.push('', `Decisions as of ${json.asOf}: ${json.decisions.length}`);
  if (json.decisions.length > 0) {
    out.push(
      table(
        ['PATIENT', 'CONTACT', 'RELATIONSHIP', 'AUTHORITY', 'EMAIL', 'OUTCOME', 'RULE', 'REASON'],
        json.decisions.map((d) => [
          d.patientId,
          `${d.contact.givenName} ${d.contact.familyName}`.trim() || '(no name)',
          d.contact.relationship,
          d.contact.authority,
          d.contact.email ?? '-',
          d.outcome,
          d.rule,
          d.reason,
        ]),
      ),
    );
  }

  const warnings = new Set(x.result.decisions.flatMap((d) => d.warnings.map((w) => `  ${w.rule} ${d.guardianKey}: ${w.reason}`)));
  out.push(...warnings);

  const welcome = new Map(x.result.accounts.map((a) => [a.guardianKey, a.welcome]));
  out.push('', `Portal accounts wanted: ${json.accounts.length}`);
  if (json.accounts.length > 0) {
    out.push(
      table(
        ['EMAIL', 'DEPENDENTS', 'WELCOME', 'GUARDIAN KEY'],
        json.accounts.map((a) => [
          a.email,
          a.dependents.map((d) => (d.accessLevel === 'full' ? d.patientId : `${d.patientId} (${d.accessLevel})`)).join(', '),
          welcome.get(a.guardianKey) === false ? 'none (staff-created, R17)' : 'once',
          a.guardianKey,
        ]),
      ),
    );
  }

  out.push('', `Conflicts: ${json.conflicts.length}`);
  for (const c of json.conflicts) {
    out.push(`  ${c.emailKey} is used by ${c.guardianKeys.length} different people (${c.guardianKeys.join(', ')}) on patient(s) ${c.patientIds.join(', ')}: no account for any of them until staff fix the emails`);
  }
  return out.join('\n');
}
