import { decide, RULE_IDS, RULES, formatReason, type Decision, type Outcome, type RuleId } from './eligibility';
import { NO_FLAGS, type Contact, type Patient, type Snapshot } from './model';
import { DEFAULT_POLICY, type Policy } from './policy';

const AS_OF = '2024-06-15';

function patient(id: string, over: Partial<Patient> = {}): Patient {
  return { id, name: { given: 'Kit', family: 'Testchild' }, birthDate: '2016-03-10', deceased: false, active: true, sourceVersion: '2024-01-01T00:00:00Z', ...over };
}

function contact(patientId: string, over: Partial<Contact> = {}): Contact {
  return {
    patientId,
    name: { given: 'Ada', family: 'Testperson' },
    relationship: 'mother',
    authority: 'joint',
    email: 'ada@example.org',
    birthDate: '1985-01-01',
    flags: NO_FLAGS,
    sourceVersion: '2024-01-01T00:00:00Z',
    ...over,
  };
}

function snapshot(patients: readonly Patient[], contacts: readonly Contact[]): Snapshot {
  const byPatient = new Map<string, Contact[]>();
  for (const c of contacts) byPatient.set(c.patientId, [...(byPatient.get(c.patientId) ?? []), c]);
  return { patients: new Map(patients.map((p) => [p.id, p])), contacts: byPatient, appointments: new Map() };
}

function policy(over: Partial<Policy> = {}): Policy {
  return { ...DEFAULT_POLICY, ...over };
}

/** The decision for the one real contact row of a one-patient snapshot. */
function decideRow(p: Partial<Patient>, c: Partial<Contact>, pol: Partial<Policy> = {}, asOf = AS_OF): Decision {
  const row = contact('P1', c);
  const result = decide(snapshot([patient('P1', p)], [row]), policy(pol), asOf);
  const found = result.decisions.find((d) => d.contact === row);
  if (found === undefined) throw new Error('no decision for the row');
  return found;
}

const limited = { ...NO_FLAGS, limitedAccess: true };
const teen = { enabled: true, fromAge: 12, policy: 'link-limited' as const };

describe('decide: one rule per row (R01–R15, R20)', () => {
  it.each<[string, Partial<Patient>, Partial<Contact>, Partial<Policy>, RuleId, Outcome]>([
    ['R01 deceased', { deceased: true }, {}, {}, 'R01', 'unlink'],
    ['R02 merged into another chart', { mergedInto: 'P9' }, {}, {}, 'R02', 'unlink'],
    ['R03 inactive', { active: false }, {}, {}, 'R03', 'skip'],
    ['R04 authority none', {}, { authority: 'none' }, {}, 'R04', 'skip'],
    ['R04 authority unknown', {}, { authority: 'unknown' }, {}, 'R04', 'skip'],
    ['R04 joint not in a practice set of exclusive only', {}, {}, { eligibleAuthorities: ['exclusive'] }, 'R04', 'skip'],
    ['R05 role Self', {}, { relationship: 'self' }, {}, 'R05', 'skip'],
    ['R06 no access', {}, { flags: { ...NO_FLAGS, noAccess: true } }, {}, 'R06', 'unlink'],
    ['R07 declined', {}, { flags: { ...NO_FLAGS, declined: true } }, {}, 'R07', 'skip'],
    ['R08 contact under 18', {}, { birthDate: '2008-01-01' }, {}, 'R08', 'hold'],
    ['R09 no email', {}, { email: undefined }, {}, 'R09', 'hold'],
    ['R09 blank email', {}, { email: '   ' }, {}, 'R09', 'hold'],
    ['R10 invalid email', {}, { email: 'ada@example' }, {}, 'R10', 'hold'],
    ['R11 passwordless without a cell phone', {}, {}, { passwordless: true }, 'R11', 'hold'],
    ['R14 patient of age: guardian unlinked', { birthDate: '2005-01-01' }, {}, {}, 'R14', 'unlink'],
    ['R15 adolescent, link-limited', { birthDate: '2010-01-01' }, {}, { adolescent: teen }, 'R15', 'link-limited'],
    ['R15 adolescent, hold', { birthDate: '2010-01-01' }, {}, { adolescent: { ...teen, policy: 'hold' } }, 'R15', 'hold'],
    ['R15 adolescent, unlink', { birthDate: '2010-01-01' }, {}, { adolescent: { ...teen, policy: 'unlink' } }, 'R15', 'unlink'],
    ['R15 off by default', { birthDate: '2010-01-01' }, {}, {}, 'R20', 'provision'],
    ['R15 under fromAge', { birthDate: '2013-01-01' }, {}, { adolescent: teen }, 'R20', 'provision'],
    ['R20 eligible', {}, {}, {}, 'R20', 'provision'],
    ['R20 exclusive authority', {}, { authority: 'exclusive' }, {}, 'R20', 'provision'],
    ['R20 passwordless with a cell phone', {}, { cellPhone: '+12025550123' }, { passwordless: true }, 'R20', 'provision'],
    ['R20 limited access flag', {}, { flags: limited }, {}, 'R20', 'link-limited'],
    ['R20 staff-created still provisions', {}, { flags: { ...NO_FLAGS, staffCreated: true } }, {}, 'R20', 'provision'],
  ])('%s', (_name, p, c, pol, rule, outcome) => {
    expect(decideRow(p, c, pol)).toMatchObject({ rule, outcome });
  });
});

describe('decide: precedence (unlink > conflict > hold > skip > link-limited > provision)', () => {
  it.each<[string, Partial<Patient>, Partial<Contact>, Partial<Policy>, RuleId, Outcome]>([
    ['deceased + no email → R01', { deceased: true }, { email: undefined }, {}, 'R01', 'unlink'],
    ['deceased + no access → lowest unlink id R01', { deceased: true }, { flags: { ...NO_FLAGS, noAccess: true } }, {}, 'R01', 'unlink'],
    ['no access + no email → R06', {}, { email: undefined, flags: { ...NO_FLAGS, noAccess: true } }, {}, 'R06', 'unlink'],
    ['authority none + no email → hold R09', {}, { authority: 'none', email: undefined }, {}, 'R09', 'hold'],
    ['inactive + declined → lowest skip id R03', { active: false }, { flags: { ...NO_FLAGS, declined: true } }, {}, 'R03', 'skip'],
    ['declined + limited → skip R07', {}, { flags: { ...NO_FLAGS, declined: true, limitedAccess: true } }, {}, 'R07', 'skip'],
    ['minor guardian + invalid email → R08', {}, { birthDate: '2010-01-01', email: 'x' }, {}, 'R08', 'hold'],
    ['of age + R15 not applicable → R14', { birthDate: '2000-01-01' }, {}, { adolescent: teen }, 'R14', 'unlink'],
    ['adolescent hold + no access → R06', { birthDate: '2010-01-01' }, { flags: { ...NO_FLAGS, noAccess: true } }, { adolescent: { ...teen, policy: 'hold' } }, 'R06', 'unlink'],
  ])('%s', (_name, p, c, pol, rule, outcome) => {
    expect(decideRow(p, c, pol)).toMatchObject({ rule, outcome });
  });
});

describe('decide: reasons staff can read', () => {
  it.each<[Partial<Patient>, Partial<Contact>, Partial<Policy>, string]>([
    [{ deceased: true }, {}, {}, 'patient recorded as deceased'],
    [{ mergedInto: 'P9' }, {}, {}, 'record merged into another chart'],
    [{}, { authority: 'unknown' }, {}, 'authority is Unknown; only Joint or Exclusive grants access'],
    [{}, { authority: 'none' }, {}, 'authority is None; only Joint or Exclusive grants access'],
    [{}, { relationship: 'self' }, {}, 'role is Self: add the parent as Other Relative with the same email'],
    [{}, { email: 'jane.doe@example' }, {}, 'email j***@example is not valid'],
    [{ birthDate: '2005-01-01' }, {}, {}, 'patient reached the age limit (18)'],
    [{ birthDate: '2010-01-01' }, {}, { adolescent: { ...teen, policy: 'hold' } }, 'adolescent privacy policy (hold)'],
    [{}, {}, {}, 'eligible'],
  ])('%p %p %p → %s', (p, c, pol, reason) => {
    expect(decideRow(p, c, pol).reason).toBe(reason);
  });
});

describe('decide: retain (keep an existing link, create none)', () => {
  it.each<[string, Partial<Patient>, Partial<Contact>, boolean]>([
    ['R03 inactive keeps links', { active: false }, {}, true],
    ['a hold keeps links', {}, { email: undefined }, true],
    ['inactive but authority none: the link goes', { active: false }, { authority: 'none' }, false],
    ['declined: the link goes', {}, { flags: { ...NO_FLAGS, declined: true } }, false],
    ['unlink never retains', { deceased: true }, {}, false],
    ['provision needs no retain', {}, {}, false],
  ])('%s', (_name, p, c, retained) => {
    expect(decideRow(p, c).retain === true).toBe(retained);
  });

  it('an inactive patient stays in the account as retained, not as a dependent', () => {
    const result = decide(snapshot([patient('P1', { active: false }), patient('P2')], [contact('P1', { contactId: 'c1' }), contact('P2', { contactId: 'c1' })]), policy(), AS_OF);
    expect(result.accounts).toEqual([expect.objectContaining({ guardianKey: 'c:c1', dependents: [{ patientId: 'P2', accessLevel: 'full' }], retain: ['P1'] })]);
  });
});

describe('rule catalog', () => {
  it('lists R01–R15 and R20 once each, with a reason', () => {
    const ids = RULES.map((r) => r.id);
    expect(ids).toEqual(['R01', 'R02', 'R03', 'R04', 'R05', 'R06', 'R07', 'R08', 'R09', 'R10', 'R11', 'R12', 'R13', 'R14', 'R15', 'R20']);
    expect(ids).toEqual([...RULE_IDS]);
    for (const rule of RULES) expect(rule.reason.length).toBeGreaterThan(3);
  });

  it('formatReason fills placeholders', () => {
    expect(formatReason('R13', { count: 2 })).toBe('looks like a duplicate contact: one person has 2 contact records');
    expect(formatReason('R09')).toBe('no email on file');
  });

  it('reasons carry no PHI beyond a masked email', () => {
    const p = [patient('P1'), patient('P2', { birthDate: '2005-02-02', email: 'kit.own@example.com' })];
    const c = [
      contact('P1', { email: 'ada.private@example.org', contactId: 'c1' }),
      contact('P1', { name: { given: 'Bo', family: 'Otherparent' }, email: 'ada.private@example.org' }),
      contact('P2', { email: 'bad@address', contactId: 'c3' }),
    ];
    const result = decide(snapshot(p, c), policy(), AS_OF);
    for (const d of result.decisions) {
      for (const text of [d.reason, ...d.warnings.map((w) => w.reason)]) {
        expect(text).not.toMatch(/Testperson|Otherparent|Testchild|ada\.private|kit\.own|1985|2005-02-02|bad@address/);
      }
    }
  });
});
