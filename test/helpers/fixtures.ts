import { existsSync, readdirSync, readFileSync } from 'node:fs';
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

/** The public samples of one kind with their text, or undefined when absent (see publicFixtures). */
export function readPublicFixtures(kind: 'hl7' | 'fhir'): { file: string; text: string }[] | undefined {
  return publicFixtures(kind)?.files.map((file) => ({ file, text: readFileSync(file, 'utf8') }));
}

/** A file shipped inside an installed package (e.g. to compare our tables with the library's own). */
export function packageFile(pkg: string, file: string): string {
  return readFileSync(path.join(path.dirname(require.resolve(pkg)), file), 'utf8');
}
