import { createRefs } from '../refs';
import { createMasker, initials, maskGuardianKey, maskPhone, maskText, maskTrigger } from './masking';

const refs = createRefs('test-key-0123456789abcdef');

describe('maskGuardianKey', () => {
  test.each([
    ['c:C501', 'c:C***'],
    ['e:ada.testperson@example.org/ada testperson', 'e:a***@example.org/A.T.'],
    ['e:ada.testperson@example.org/ada testperson/1985-02-03', 'e:a***@example.org/A.T./****-**-**'],
    ['e:odd/local@example.org/mary obriensmith', 'e:o***@example.org/M.O.'],
    ['p:P1001/mia testperson', 'p:P***/M.T.'],
    ['p:P1001', 'p:P***'],
    ['weird', 'w***'],
  ])('%s → %s', (key, masked) => {
    expect(maskGuardianKey(key)).toBe(masked);
  });
});

describe('pieces', () => {
  test('initials: first letters, hyphenated families count once per part', () => {
    expect(initials('Ada Testperson')).toBe('A. T.');
    expect(initials("Mary O'Brien-Smith")).toBe('M. O. S.');
    expect(initials('  ')).toBe('-');
  });

  test('phones keep their last two digits', () => {
    expect(maskPhone('+12025550101')).toBe('***01');
    expect(maskPhone('12')).toBe('***');
  });

  test('email triggers are masked, others kept', () => {
    expect(maskTrigger('email:ada.new@example.org')).toBe('email:a***@example.org');
    expect(maskTrigger('created')).toBe('created');
    expect(maskTrigger('authority:17')).toBe('authority:17');
  });

  test('free text: emails and phone numbers masked, times and codes kept', () => {
    const text = 'ERR_X at 2026-01-15T15:00:00.000Z for ada.testperson@example.org, cell +12025550101 or (202) 555-0101 or 202-555-0101';
    const masked = maskText(text);
    expect(masked).toBe('ERR_X at 2026-01-15T15:00:00.000Z for a***@example.org, cell ***01 or ***01 or ***01');
  });
});

describe('createMasker', () => {
  const name = { given: 'Ada', family: 'Testperson' };

  test('masks by default: refs for patients and guardians, initials, masked email and phone', () => {
    const m = createMasker(refs);
    expect(m.unmasked).toBe(false);
    expect(m.guardianRef('c:C501')).toMatch(/^g_[0-9a-f]{16}$/);
    expect(m.guardianKey('c:C501')).toBe('c:C***');
    expect(m.patient('P1001')).toMatch(/^p_[0-9a-f]{16}$/);
    expect(m.email('ada.testperson@example.org')).toBe('a***@example.org');
    expect(m.name(name)).toBe('A. T.');
    expect(m.phone('+12025550101')).toBe('***01');
    expect(m.email(undefined)).toBe('-');
    expect(m.name(undefined)).toBe('-');
  });

  test('--unmask shows values as stored (the ref stays a ref)', () => {
    const m = createMasker(refs, { unmask: true });
    expect(m.guardianKey('e:ada@example.org/ada testperson')).toBe('e:ada@example.org/ada testperson');
    expect(m.patient('P1001')).toBe('P1001');
    expect(m.email('ada.testperson@example.org')).toBe('ada.testperson@example.org');
    expect(m.name(name)).toBe('Ada Testperson');
    expect(m.phone('+12025550101')).toBe('+12025550101');
    expect(m.text('ada@example.org')).toBe('ada@example.org');
    expect(m.guardianRef('c:C501')).toBe(createMasker(refs).guardianRef('c:C501'));
  });
});
