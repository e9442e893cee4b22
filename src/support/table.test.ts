import { formatTable } from './table';

test('columns padded to the widest cell, the last one not padded', () => {
  expect(formatTable(['A', 'LONG HEADER', 'Z'], [['x', 'y', 'last'], ['wider cell', '', 'z\nnext']])).toBe(
    ['A           LONG HEADER  Z', 'x           y            last', 'wider cell               z next'].join('\n'),
  );
});
