import { ageOn, isLeapYear, localDate } from './age';

describe('ageOn', () => {
  it.each([
    ['2010-06-15', '2024-06-14', 13],
    ['2010-06-15', '2024-06-15', 14],
    ['2010-06-15', '2024-12-31', 14],
    ['2006-01-01', '2024-01-01', 18],
    ['2024-03-01', '2024-03-01', 0],
    // Feb-29 birthdays fall on Mar 1 in non-leap years.
    ['2008-02-29', '2026-02-28', 17],
    ['2008-02-29', '2026-03-01', 18],
    ['2008-02-29', '2028-02-28', 19],
    ['2008-02-29', '2028-02-29', 20],
    // Partial dates: YYYY-MM counts from the 1st; YYYY cannot decide.
    ['2006-05', '2024-05-01', 18],
    ['2006-05', '2024-04-30', 17],
    ['2006', '2024-12-31', undefined],
    // Invalid.
    ['2006-02-30', '2024-01-01', undefined],
    ['2006-13-01', '2024-01-01', undefined],
    ['06/01/2006', '2024-01-01', undefined],
    ['2006-01-01', '2024-01', undefined],
    ['2025-01-01', '2024-01-01', undefined],
    ['2007-02-29', '2024-01-01', undefined],
  ])('born %s, on %s → %p', (birth, asOf, age) => {
    expect(ageOn(birth, asOf)).toBe(age);
  });
});

describe('isLeapYear', () => {
  it.each([[2000, true], [1900, false], [2024, true], [2026, false]])('%i → %p', (y, leap) => {
    expect(isLeapYear(y)).toBe(leap);
  });
});

describe('localDate', () => {
  it.each([
    ['2024-03-01T03:30:00Z', 'America/New_York', '2024-02-29'],
    ['2024-03-01T05:30:00Z', 'America/New_York', '2024-03-01'],
    ['2024-12-31T23:30:00-05:00', 'UTC', '2025-01-01'],
    ['2024-06-30T14:00:00Z', 'Pacific/Kiritimati', '2024-07-01'],
    ['2024-06-30T14:00:00Z', 'Pacific/Pago_Pago', '2024-06-30'],
  ])('%s in %s → %s', (instant, zone, date) => {
    expect(localDate(instant, zone)).toBe(date);
  });

  it('refuses an unparseable instant or an unknown zone', () => {
    expect(() => localDate('yesterday', 'UTC')).toThrow(RangeError);
    expect(() => localDate('2024-01-01T00:00:00Z', 'Mars/Olympus_Mons')).toThrow(RangeError);
  });

  it('a birthday turns on the practice-local date, not UTC', () => {
    const asOf = localDate('2024-06-15T02:00:00Z', 'America/New_York');
    expect(asOf).toBe('2024-06-14');
    expect(ageOn('2006-06-15', asOf)).toBe(17);
  });
});
