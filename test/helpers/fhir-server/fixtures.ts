import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { publicFixtures } from '../fixtures';
import type { FhirResource } from './types';

/**
 * The resources in a folder of FHIR JSON files (default: the shared public fixtures, ../shared/fixtures/public/fhir):
 * a file holding a resource gives it, a Bundle gives its entries' resources (nested Bundles unpacked, the
 * `{fullUrl, resource}` wrapper and double-wrapped entries too). An empty list when the folder is absent
 * (an error when REQUIRE_FIXTURES=1, see test/helpers/fixtures.ts).
 */
export function fixtureResources(dir?: string): FhirResource[] {
  const folder = dir ?? publicFixtures('fhir')?.dir;
  if (folder === undefined) return [];
  const out: FhirResource[] = [];
  for (const file of readdirSync(folder).filter((f) => f.endsWith('.json')).sort()) {
    unpack(JSON.parse(readFileSync(path.join(folder, file), 'utf8').replace(/^\uFEFF/, '')), out, 0);
  }
  return out;
}

function unpack(x: unknown, out: FhirResource[], depth: number): void {
  if (typeof x !== 'object' || x === null || depth > 4) return;
  const o = x as Record<string, unknown>;
  if (typeof o.resourceType !== 'string') {
    if ('resource' in o) unpack(o.resource, out, depth);
    return;
  }
  if (o.resourceType !== 'Bundle') {
    out.push(o as FhirResource);
    return;
  }
  if (Array.isArray(o.entry)) for (const e of o.entry as unknown[]) unpack((e as { resource?: unknown } | null)?.resource, out, depth + 1);
}
