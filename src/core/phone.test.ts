import { isRegion, toE164 } from './phone';

describe('toE164', () => {
  test.each([
    ['(202) 555-0123', 'US', '+12025550123'],
    ['202.555.0123', 'US', '+12025550123'],
    ['+1 202 555 0123', 'GB', '+12025550123'],
    ['07911 123456', 'GB', '+447911123456'],
  ])('%s in %s → %s', (text, region, expected) => {
    expect(toE164(text, region)).toBe(expected);
  });

  test.each([[''], ['   '], ['555-1234'], ['not a phone'], [undefined]])('refuses %p', (text) => {
    expect(toE164(text, 'US')).toBeUndefined();
  });
});

test('isRegion', () => {
  expect(isRegion('US')).toBe(true);
  expect(isRegion('XX')).toBe(false);
});
