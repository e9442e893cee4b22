import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestDb } from './db';

/** Writes a config file in `dir` that points the CLI at this test file's database (and, optionally, a mapping). */
export function writeCliConfig(db: TestDb, dir: string, name: string, mapping?: string): string {
  const options = db.options();
  let database: string;
  if (options.url !== undefined) {
    const url = new URL(options.url);
    if (options.schema !== undefined) url.searchParams.set('options', `-c search_path=${options.schema}`);
    database = `  url: ${JSON.stringify(url.toString())}`;
  } else {
    database = `  file: ${JSON.stringify(options.file)}`;
  }
  const file = path.join(dir, `${db.dialect}-${name}.yaml`);
  writeFileSync(file, `database:\n${database}\n${mapping === undefined ? '' : `mapping:\n  path: ${JSON.stringify(mapping)}\n`}`);
  return file;
}
