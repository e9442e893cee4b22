import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ERROR_CATALOG } from '../src/errors';

// STYLE rule 4: the README's error table and the catalog stay in step.
test('README error table lists exactly the catalog codes with their class', () => {
  const readme = readFileSync(path.resolve(__dirname, '..', 'README.md'), 'utf8');
  const rows = [...readme.matchAll(/^\|\s*`(ERR_[A-Z0-9_]+)`\s*\|\s*(transient|ambiguous|permanent)\s*\|/gm)].map((m) => [m[1], m[2]]);
  const catalog = Object.entries(ERROR_CATALOG).map(([code, e]) => [code, e.class]);
  expect(rows.sort()).toEqual(catalog.sort());
});
