import { compareContacts, emailKey, groupGuardians, isValidEmail, maskEmail, nameKey } from './identity';
import { NO_FLAGS, type Contact } from './model';

function row(over: Partial<Contact> & Pick<Contact, 'patientId'>): Contact {
  return {
    name: { given: 'Ada', family: 'Testperson' },
    relationship: 'mother',
    authority: 'joint',
    email: 'ada@example.org',
    flags: NO_FLAGS,
    sourceVersion: '2024-01-01T00:00:00Z',
    ...over,
  };
}

describe('emailKey', () => {
  it.each([
    ['  Ada.Test+kids@Example.ORG ', 'ada.test+kids@example.org'],
    ['ADA@EXAMPLE.ORG', 'ada@example.org'],
    ['', undefined],
    ['   ', undefined],
    [undefined, undefined],
  ])('%p → %p', (input, key) => {
    expect(emailKey(input)).toBe(key);
  });
});

describe('nameKey', () => {
  it.each([
    [{ given: 'Mary', family: "O'Brien-Smith" }, 'mary obriensmith'],
    [{ given: '  MARY ', family: " O’Brien–Smith , " }, 'mary obriensmith'],
    [{ given: 'Ａｄａ', family: 'Test  Person' }, 'ada test person'],
    [{ given: '', family: '' }, ''],
    [{ given: 'Zoë', family: 'Testperson' }, 'zoë testperson'],
  ])('%p → %p', (name, key) => {
    expect(nameKey(name)).toBe(key);
  });
});

describe('isValidEmail', () => {
  it.each([
    ['ada@example.org', true],
    [' ada@example.org ', true],
    ['a.b+c@mail.example.com', true],
    ['ada@example', false],
    ['ada@@example.org', false],
    ['@example.org', false],
    ['ada@', false],
    ['ada example@example.org', false],
    ['ada@example..org', false],
    ['ada@.org', false],
    ['', false],
  ])('%p → %p', (email, valid) => {
    expect(isValidEmail(email)).toBe(valid);
  });
});

describe('maskEmail', () => {
  it.each([
    ['jane@example.org', 'j***@example.org'],
    ['not-an-email', '***'],
    [undefined, '***'],
  ])('%p → %p', (email, masked) => {
    expect(maskEmail(email)).toBe(masked);
  });
});

describe('groupGuardians', () => {
  it('one guardian per contactId across charts; key is the smallest contactId', () => {
    const groups = groupGuardians([
      row({ patientId: 'p1', contactId: 'c9', email: 'old@example.org', sourceVersion: '2024-01-01T00:00:00Z' }),
      row({ patientId: 'p2', contactId: 'c9', email: 'new@example.org', sourceVersion: '2024-03-01T00:00:00Z' }),
    ]);
    expect(groups).toHaveLength(1);
    expect(groups[0]).toMatchObject({ guardianKey: 'c:c9', email: 'new@example.org', emailKey: 'new@example.org', duplicateContactIds: false });
  });

  it('same email-key and name-key, different contactIds → one guardian, flagged duplicate (R13)', () => {
    const groups = groupGuardians([
      row({ patientId: 'p1', contactId: 'c2', email: 'ADA@example.org' }),
      row({ patientId: 'p2', contactId: 'c1', email: 'ada@example.org ' }),
    ]);
    expect(groups).toHaveLength(1);
    expect(groups[0]).toMatchObject({ guardianKey: 'c:c1', duplicateContactIds: true });
  });

  it('same email and name but different known birth dates → two people', () => {
    const groups = groupGuardians([
      row({ patientId: 'p1', birthDate: '1980-01-01' }),
      row({ patientId: 'p2', birthDate: '1955-06-30' }),
    ]);
    expect(groups.map((g) => g.guardianKey)).toEqual([
      'e:ada@example.org/ada testperson/1955-06-30',
      'e:ada@example.org/ada testperson/1980-01-01',
    ]);
  });

  it('same email, different names → two guardians', () => {
    const groups = groupGuardians([row({ patientId: 'p1' }), row({ patientId: 'p1', name: { given: 'Bo', family: 'Testperson' } })]);
    expect(groups.map((g) => g.guardianKey)).toEqual(['e:ada@example.org/ada testperson', 'e:ada@example.org/bo testperson']);
  });

  it('no contactId and no email → identified per chart only', () => {
    const groups = groupGuardians([
      row({ patientId: 'p1', email: undefined }),
      row({ patientId: 'p1', email: '  ' }),
      row({ patientId: 'p2', email: undefined }),
    ]);
    expect(groups.map((g) => g.guardianKey)).toEqual(['p:p1/ada testperson', 'p:p2/ada testperson']);
    expect(groups[0]?.rows).toHaveLength(2);
    expect(groups[0]?.email).toBeUndefined();
  });

  it('merges transitively (contactId link + email/name link)', () => {
    const groups = groupGuardians([
      row({ patientId: 'p1', contactId: 'c5', email: 'x@example.org' }),
      row({ patientId: 'p2', contactId: 'c5', email: 'ada@example.org', sourceVersion: '2024-02-01T00:00:00Z' }),
      row({ patientId: 'p3', email: 'ada@example.org' }),
    ]);
    expect(groups).toHaveLength(1);
    expect(groups[0]).toMatchObject({ guardianKey: 'c:c5', email: 'ada@example.org' });
  });

  it('picks the most recent row by instant, not by text; ties do not depend on input order', () => {
    const a = row({ patientId: 'p1', contactId: 'c1', email: 'a@example.org', cellPhone: '+12025550101', sourceVersion: '2024-01-01T10:00:00+05:00' });
    const b = row({ patientId: 'p2', contactId: 'c1', email: 'b@example.org', sourceVersion: '2024-01-01T06:00:00Z' });
    expect(groupGuardians([a, b])[0]).toMatchObject({ email: 'b@example.org', cellPhone: '+12025550101' });
    const tieA = row({ patientId: 'p1', contactId: 'c1', email: 'a@example.org' });
    const tieB = row({ patientId: 'p2', contactId: 'c1', email: 'b@example.org' });
    expect(groupGuardians([tieA, tieB])).toEqual(groupGuardians([tieB, tieA]));
  });

  it('compareContacts is a total order by content', () => {
    const a = row({ patientId: 'p1' });
    expect(compareContacts(a, { ...a })).toBe(0);
    expect(compareContacts(a, row({ patientId: 'p2' }))).toBeLessThan(0);
    expect(compareContacts(a, row({ patientId: 'p1', flags: { ...NO_FLAGS, declined: true } }))).toBeLessThan(0);
  });
});
