/**
 * Decisions → desired portal accounts (DESIGN §5 "Desired"): per guardian, the dependents to link and at which
 * level, the links to keep, and whether a welcome is wanted. Pure.
 */
import { compareText, type GuardianGroup } from './identity';
import type { Decision, DesiredAccount, DesiredDependent } from './eligibility/types';

/**
 * Builds one DesiredAccount per guardian that has a dependent or a retained link, sorted by guardianKey.
 * A guardian may have several rows on one chart (e.g. a Self row and an Other Relative row); for each
 * (guardian, patient) the rows combine so that the safest answer wins:
 * - any unlink or conflict → no link at all;
 * - else any hold → no new link, the existing one kept (retain) when the hold retains;
 * - else any provision / link-limited → a dependent, `limited` if any contributing row says limited
 *   (a skip on another row, such as the Self row, does not block it);
 * - else a retain (R03) → kept.
 * `welcome` is false when every row that contributes a dependent is staff-created (R17).
 * Decisions whose guardianKey has no group (R14 self-account holds) never produce an account.
 */
export function desiredAccounts(decisions: readonly Decision[], groups: readonly GuardianGroup[]): DesiredAccount[] {
  const byGuardian = new Map<string, Map<string, Decision[]>>();
  for (const d of decisions) {
    const perPatient = byGuardian.get(d.guardianKey) ?? new Map<string, Decision[]>();
    perPatient.set(d.patientId, [...(perPatient.get(d.patientId) ?? []), d]);
    byGuardian.set(d.guardianKey, perPatient);
  }
  const accounts: DesiredAccount[] = [];
  for (const group of groups) {
    const perPatient = byGuardian.get(group.guardianKey);
    if (perPatient === undefined) continue;
    const dependents: DesiredDependent[] = [];
    const retain: string[] = [];
    const contributing: Decision[] = [];
    for (const [patientId, pair] of perPatient) {
      const has = (...outcomes: Decision['outcome'][]): boolean => pair.some((d) => outcomes.includes(d.outcome));
      if (has('unlink', 'conflict')) continue;
      const grants = pair.filter((d) => d.outcome === 'provision' || d.outcome === 'link-limited');
      if (!has('hold') && grants.length > 0) {
        dependents.push({ patientId, accessLevel: grants.some((d) => d.outcome === 'link-limited') ? 'limited' : 'full' });
        contributing.push(...grants);
      } else if (pair.some((d) => d.retain === true)) retain.push(patientId);
    }
    if (dependents.length === 0 && retain.length === 0) continue;
    accounts.push({
      guardianKey: group.guardianKey,
      email: group.email ?? '',
      name: group.name,
      ...(group.cellPhone !== undefined ? { cellPhone: group.cellPhone } : {}),
      dependents: dependents.sort((a, b) => compareText(a.patientId, b.patientId)),
      retain: retain.sort(compareText),
      welcome: contributing.some((d) => !d.contact.flags.staffCreated),
    });
  }
  return accounts.sort((a, b) => compareText(a.guardianKey, b.guardianKey));
}
