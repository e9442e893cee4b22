import { readFileSync } from 'node:fs';
import path from 'node:path';
import { formatProblem, loadMapping } from '../../src/core/mapping/load';
import type { Mapping } from '../../src/core/mapping/types';

const ROOT = path.resolve(__dirname, '..', '..');

/** The text of a bundled mapping profile (mappings/<format>-default.yaml), for tests that vary it. */
export function bundledMappingText(format: 'hl7v2' | 'fhir'): string {
  return readFileSync(path.join(ROOT, 'mappings', `${format}-default.yaml`), 'utf8');
}

/** Loads mapping text; a test fails loudly with every located problem if it does not validate. */
export function mappingFromText(yaml: string, file = 'mapping.yaml'): Mapping {
  const r = loadMapping(yaml, file);
  if (!r.ok) throw new Error(r.problems.map(formatProblem).join('\n'));
  return r.mapping;
}

/** A bundled mapping profile, validated. */
export function bundledMapping(format: 'hl7v2' | 'fhir'): Mapping {
  return mappingFromText(bundledMappingText(format), `${format}-default.yaml`);
}

/** Reads a synthetic test fixture under test/fixtures/. */
export function testFixture(...parts: string[]): string {
  return readFileSync(path.join(ROOT, 'test', 'fixtures', ...parts), 'utf8');
}
