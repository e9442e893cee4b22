import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { InputText } from '../explain/run-inputs';
import { BridgeError } from '../errors';
import { UsageError } from './io';

/**
 * Reads input files in the order given; a directory stands for its files (sorted, not recursive; dot-files and
 * YAML / Markdown files — an example case's expected.yaml, mapping.yaml, README — skipped). A missing or unreadable input is a usage error naming it.
 */
const NOT_INPUT = /\.(ya?ml|md)$/i;

export function readInputs(args: readonly string[]): InputText[] {
  const files: string[] = [];
  for (const arg of args) {
    let isDir: boolean;
    try {
      isDir = statSync(arg).isDirectory();
    } catch (e) {
      throw new BridgeError('ERR_INPUT_UNREADABLE', `cannot read input ${arg}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(e)}`);
    }
    if (isDir) {
      files.push(...readdirSync(arg).filter((n) => !n.startsWith('.') && !NOT_INPUT.test(n)).sort().map((n) => path.join(arg, n)).filter((f) => statSync(f).isFile()));
    } else files.push(arg);
  }
  return files.map((file) => {
    try {
      return { file, text: readFileSync(file, 'utf8') };
    } catch (e) {
      throw new BridgeError('ERR_INPUT_UNREADABLE', `cannot read input ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  });
}

/** `--as-of` value: a real calendar date written YYYY-MM-DD. */
export function parseAsOf(value: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const ok = m !== null && !Number.isNaN(Date.parse(`${value}T00:00:00Z`)) && new Date(`${value}T00:00:00Z`).toISOString().startsWith(value);
  if (!ok) throw new UsageError(`--as-of must be a date written YYYY-MM-DD, got "${value}"`);
  return value;
}
