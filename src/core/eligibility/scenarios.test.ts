import { localDate } from '../age';
import { decide, type EligibilityResult } from '../eligibility';
import { NO_FLAGS, type Contact, type Patient, type Snapshot } from '../model';
import { DEFAULT_POLICY, type Policy } from '../policy';

const AS_OF = '2024-06-15';
const patient = (id: string, over: Partial<Patient> = {}): Patient => ({
  id, name: { given: 'Kit', family: 'Testchild' }, birthDate: '2016-03-10', deceased: false, active: true, sourceVersion: '2024-01-01T00:00:00Z', ...over,
});
const contact = (patientId: string, over: Partial<Contact> = {}): Contact => ({
  patientId, name: { given: 'Ada', family: 'Testperson' }, relationship: 'mother', authority: 'joint', email: 'ada@example.org',
  birthDate: '1985-01-01', flags: NO_FLAGS, sourceVersion: '2024-01-01T00:00:00Z', ...over,
});
const bo = { name: { given: 'Bo', family: 'Testperson' }, relationship: 'father', birthDate: '1983-04-04' } as const;

function run(patients: readonly Patient[], contacts: readonly Contact[], pol: Partial<Policy> = {}, asOf = AS_OF): EligibilityResult {
  const byPatient = new Map<string, Contact[]>();
  for (const c of contacts) byPatient.set(c.patientId, [...(byPatient.get(c.patientId) ?? []), c]);
  const snap: Snapshot = { patients: new Map(patients.map((p) => [p.id, p])), contacts: byPatient, appointments: new Map() };
  return decide(snap, { ...DEFAULT_POLICY, ...pol }, asOf);
}
const summary = (r: EligibilityResult) => r.decisions.map((d) => [d.patientId, d.guardianKey, d.contact.relationship, d.outcome, d.rule]);
const deps = (r: EligibilityResult) => r.accounts.map((a) => [a.guardianKey, a.dependents.map((d) => `${d.patientId}:${d.accessLevel}`)]);

describe('R12: parents cannot share an email', () => {
  it('two parents of two siblings on one email: both conflict, no account, one conflict entry', () => {
    const r = run([patient('P1'), patient('P2')], [contact('P1', { email: 'Shared@example.org' }), contact('P2', { ...bo, email: 'shared@example.org' })]);
    expect(summary(r)).toEqual([
      ['P1', 'e:shared@example.org/ada testperson', 'mother', 'conflict', 'R12'],
      ['P2', 'e:shared@example.org/bo testperson', 'father', 'conflict', 'R12'],
    ]);
    expect(r.decisions[0]?.reason).toBe('parents cannot share an email: S***@example.org is also entered for another person');
    expect(r.accounts).toEqual([]);
    expect(r.conflicts).toEqual([{ emailKey: 'shared@example.org', guardianKeys: ['e:shared@example.org/ada testperson', 'e:shared@example.org/bo testperson'], patientIds: ['P1', 'P2'] }]);
  });

  it('same name, different known birth dates (Sr and Jr) on one email conflict', () => {
    const r = run([patient('P1')], [contact('P1'), contact('P1', { relationship: 'other-relative', birthDate: '1960-01-01' })]);
    expect(r.decisions.map((d) => d.outcome)).toEqual(['conflict', 'conflict']);
    expect(r.conflicts[0]?.guardianKeys).toEqual(['e:ada@example.org/ada testperson/1960-01-01', 'e:ada@example.org/ada testperson/1985-01-01']);
  });

  it('a Self row or a no-authority row sharing the email does not block the parent', () => {
    const r = run([patient('P1'), patient('P2', { birthDate: '1950-01-01' })], [
      contact('P1'),
      contact('P1', { name: { given: 'Cy', family: 'Testgran' }, relationship: 'other-relative', authority: 'none' }),
      contact('P2', { name: { given: 'Dee', family: 'Testpatient' }, relationship: 'self', authority: 'exclusive', birthDate: '1950-01-01' }),
    ]);
    expect(r.conflicts).toEqual([]);
    expect(deps(r)).toEqual([['e:ada@example.org/ada testperson', ['P1:full']]]);
  });

  it("an age-out patient's own email used by another family's parent conflicts", () => {
    const r = run([patient('P1', { birthDate: '2004-01-01', email: 'ada@example.org' }), patient('P2')], [contact('P2')]);
    expect(r.conflicts).toEqual([{ emailKey: 'ada@example.org', guardianKeys: ['e:ada@example.org/ada testperson', 'e:ada@example.org/kit testchild'], patientIds: ['P1', 'P2'] }]);
    expect(r.accounts).toEqual([]);
  });
});

describe('one guardian, many charts', () => {
  it('siblings under one parent (same contactId) → one account with both dependents', () => {
    const r = run([patient('P2'), patient('P1')], [contact('P1', { contactId: 'c7' }), contact('P2', { contactId: 'c7' })]);
    expect(deps(r)).toEqual([['c:c7', ['P1:full', 'P2:full']]]);
    expect(r.decisions.every((d) => d.warnings.length === 0)).toBe(true);
  });

  it('siblings under one parent without contactIds (same email-key and name-key) → one account', () => {
    const r = run([patient('P1'), patient('P2')], [contact('P1', { email: 'ADA@example.org' }), contact('P2', { name: { given: 'ada', family: 'TESTPERSON' } })]);
    expect(deps(r)).toEqual([['e:ada@example.org/ada testperson', ['P1:full', 'P2:full']]]);
  });

  it('R13: one person with two contactIds across siblings → one account, warned', () => {
    const r = run([patient('P1'), patient('P2')], [contact('P1', { contactId: 'c9' }), contact('P2', { contactId: 'c4' })]);
    expect(deps(r)).toEqual([['c:c4', ['P1:full', 'P2:full']]]);
    for (const d of r.decisions) expect(d.warnings).toEqual([{ rule: 'R13', reason: 'looks like a duplicate contact: one person has 2 contact records' }]);
  });

  it('no access on one chart removes only that chart', () => {
    const r = run([patient('P1'), patient('P2')], [contact('P1', { contactId: 'c1', flags: { ...NO_FLAGS, noAccess: true } }), contact('P2', { contactId: 'c1' })]);
    expect(deps(r)).toEqual([['c:c1', ['P2:full']]]);
  });

  it('R02: the merged chart unlinks, the survivor carries on', () => {
    const r = run([patient('OLD', { mergedInto: 'NEW' }), patient('NEW')], [contact('OLD', { contactId: 'c1' }), contact('NEW', { contactId: 'c1' })]);
    expect(summary(r)).toEqual([['NEW', 'c:c1', 'mother', 'provision', 'R20'], ['OLD', 'c:c1', 'mother', 'unlink', 'R02']]);
    expect(deps(r)).toEqual([['c:c1', ['NEW:full']]]);
  });

  it('R17: welcome is off only when every contributing row is staff-created', () => {
    const staff = { ...NO_FLAGS, staffCreated: true };
    const mixed = run([patient('P1'), patient('P2')], [contact('P1', { flags: staff }), contact('P2')]);
    expect(mixed.accounts[0]?.welcome).toBe(true);
    const all = run([patient('P1'), patient('P2')], [contact('P1', { flags: staff }), contact('P2', { flags: staff })]);
    expect(all.accounts[0]?.welcome).toBe(false);
  });

  it('R15 link-limited gives a limited dependent', () => {
    const r = run([patient('P1', { birthDate: '2010-01-01' }), patient('P2')], [contact('P1'), contact('P2')], { adolescent: { enabled: true, fromAge: 12, policy: 'link-limited' } });
    expect(deps(r)).toEqual([['e:ada@example.org/ada testperson', ['P1:limited', 'P2:full']]]);
  });
});

describe('parent who is also a patient (seeds 003, 004)', () => {
  const parent = (email?: string) => patient('PAR', { name: { given: 'Dee', family: 'Testparent' }, birthDate: '1985-05-05', ...(email !== undefined ? { email } : {}) });
  const dee = { name: { given: 'Dee', family: 'Testparent' }, email: 'dee@example.org', birthDate: '1985-05-05' } as const;
  const onChild = contact('KID', { ...dee });
  const selfRow = contact('PAR', { ...dee, relationship: 'self', authority: 'exclusive' });
  const otherRelative = contact('PAR', { ...dee, relationship: 'other-relative' });

  it.each<[string, string | undefined, readonly Contact[], string[]]>([
    ['Self row only: skipped, the parent is not their own dependent', undefined, [selfRow], ['KID:full']],
    ['Self + Other Relative: own dependent under the same account', undefined, [selfRow, otherRelative], ['KID:full', 'PAR:full']],
    ['Other Relative only', undefined, [otherRelative], ['KID:full', 'PAR:full']],
    ['Self + Other Relative, own email on the patient too', 'Dee@example.org', [selfRow, otherRelative], ['KID:full', 'PAR:full']],
    ['Self row only but own email on the patient: R14 self-account joins the same guardian', 'dee@example.org', [selfRow], ['KID:full', 'PAR:full']],
  ])('%s', (_name, ownEmail, rows, dependents) => {
    const r = run([patient('KID'), parent(ownEmail)], [onChild, ...rows]);
    expect(deps(r)).toEqual([['e:dee@example.org/dee testparent', dependents]]);
    const self = r.decisions.find((d) => d.contact === selfRow);
    if (rows.includes(selfRow)) expect(self).toMatchObject({ outcome: 'skip', rule: 'R05' });
    expect(r.decisions.filter((d) => d.outcome === 'hold' || d.outcome === 'unlink' || d.outcome === 'conflict')).toEqual([]);
  });
});

describe('R14: the patient reached the age limit', () => {
  const adult = (over: Partial<Patient> = {}) => patient('P1', { birthDate: '2005-01-01', ...over });

  it('with their own email: guardians unlinked, an account for the patient as their own dependent', () => {
    const r = run([adult({ email: 'kit@example.com' })], [contact('P1')]);
    expect(summary(r)).toEqual([
      ['P1', 'e:ada@example.org/ada testperson', 'mother', 'unlink', 'R14'],
      ['P1', 'e:kit@example.com/kit testchild', 'self', 'provision', 'R14'],
    ]);
    expect(r.decisions[1]?.contact).toMatchObject({ authority: 'exclusive', relationship: 'self', email: 'kit@example.com' });
    expect(r.decisions[1]?.reason).toBe('patient reached the age limit (18): own account at k***@example.com');
    expect(deps(r)).toEqual([['e:kit@example.com/kit testchild', ['P1:full']]]);
  });

  it.each<[string, Partial<Patient>, string]>([
    ['no own email', {}, 'patient reached the age limit (18): no email of their own on file'],
    ['own email is a parent’s', { email: ' ADA@example.org' }, "patient reached the age limit (18): their email A***@example.org is also a parent's; enter their own"],
  ])('%s → a hold, no account', (_name, over, reason) => {
    const r = run([adult(over)], [contact('P1')]);
    expect(summary(r)).toEqual([
      ['P1', 'e:ada@example.org/ada testperson', 'mother', 'unlink', 'R14'],
      ['P1', 'p:P1/kit testchild', 'self', 'hold', 'R14'],
    ]);
    expect(r.decisions[1]?.reason).toBe(reason);
    expect(r.accounts).toEqual([]);
  });

  it('never the patient themselves: their own row is decided normally', () => {
    const own = contact('P1', { name: { given: 'Kit', family: 'Testchild' }, relationship: 'other-relative', email: 'kit@example.com', birthDate: '2005-01-01' });
    const r = run([adult()], [contact('P1'), own]);
    expect(r.decisions.find((d) => d.contact === own)).toMatchObject({ outcome: 'provision', rule: 'R20' });
    expect(deps(r)).toEqual([['e:kit@example.com/kit testchild', ['P1:full']]]);
  });

  it('a namesake with another birth date is not the patient', () => {
    const namesake = contact('P1', { name: { given: 'Kit', family: 'Testchild' }, relationship: 'father', email: 'kit.sr@example.com', birthDate: '1970-01-01' });
    expect(run([adult()], [namesake]).decisions[0]).toMatchObject({ outcome: 'unlink', rule: 'R14' });
  });

  it.each([['2026-02-28', 'provision'], ['2026-03-01', 'unlink']])('Feb-29 birthday, on %s → %s', (asOf, outcome) => {
    const r = run([patient('P1', { birthDate: '2008-02-29' })], [contact('P1')], {}, asOf);
    expect(r.decisions[0]?.outcome).toBe(outcome);
  });

  it.each([['America/New_York', 'provision'], ['UTC', 'unlink']])('the practice time zone decides the day (%s → %s)', (zone, outcome) => {
    const asOf = localDate('2024-06-15T02:00:00Z', zone);
    const r = run([patient('P1', { birthDate: '2006-06-15' })], [contact('P1')], { timeZone: zone }, asOf);
    expect(r.decisions[0]?.outcome).toBe(outcome);
  });
});

describe('order', () => {
  it('does not depend on the order of contacts or of patient insertion', () => {
    const patients = [patient('P1'), patient('P2', { birthDate: '2003-01-01', email: 'kit@example.com' }), patient('P3')];
    const contacts = [
      contact('P1', { contactId: 'c1' }), contact('P1', { ...bo, email: 'bo@example.org' }), contact('P3', { contactId: 'c2' }),
      contact('P2'), contact('P3', { ...bo, email: 'ada@example.org' }), contact('P1', { relationship: 'self', email: undefined }),
    ];
    expect(run([...patients].reverse(), [...contacts].reverse())).toEqual(run(patients, contacts));
  });
});
