import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

/** The shared public samples (../shared/fixtures/public/<kind>) beside the repository. */
export function publicFixtures(kind: 'hl7' | 'fhir'): { dir: string; files: string[] } | undefined {
  const dir = path.resolve(__dirname, '..', '..', '..', 'shared', 'fixtures', 'public', kind);
  if (!existsSync(dir)) {
    if (process.env.REQUIRE_FIXTURES === '1') throw new Error(`REQUIRE_FIXTURES=1 but ${dir} is missing`);
    return undefined;
  }
  return { dir, files: readdirSync(dir).filter((f) => !f.startsWith('.')).sort().map((f) => path.join(dir, f)) };
}
