import { formatSupportId, parseSupportId } from './support-ids';

test.each([
  ['job:12', { kind: 'job', id: 12 }],
  ['12', { kind: 'job', id: 12 }],
  [' inbox:7 ', { kind: 'inbox', id: 7 }],
  ['job:0', undefined],
  ['inbox:', undefined],
  ['job:1.5', undefined],
  ['g_0123456789abcdef', undefined],
  ['account:3', undefined],
  ['9999999999999999', undefined],
])('%j → %j', (text, id) => {
  expect(parseSupportId(text)).toEqual(id);
});

test('formats as the commands print it', () => {
  expect(formatSupportId({ kind: 'inbox', id: 7 })).toBe('inbox:7');
});
