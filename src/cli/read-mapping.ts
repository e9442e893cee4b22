import { readFileSync } from 'node:fs';
import { formatProblem, loadMapping, type MappingProblem } from '../core/mapping/load';
import type { Mapping } from '../core/mapping/types';
import { BridgeError } from '../errors';

/** Reads and validates a mapping file; every problem becomes one line of the thrown UsageError. */
export function readMapping(file: string): Mapping {
  const result = loadMappingFile(file);
  if (result.ok) return result.mapping;
  throw new BridgeError('ERR_MAPPING_INVALID_FILE', `mapping ${file} has ${result.problems.length} problem(s):\n${result.problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`);
}

/** Like loadMapping, reading the file first; an unreadable file is one problem at 1:1. */
export function loadMappingFile(file: string): { ok: true; mapping: Mapping } | { ok: false; problems: readonly MappingProblem[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { ok: false, problems: [{ file, line: 1, column: 1, at: '', message: `cannot read the file (${(e as NodeJS.ErrnoException).code ?? String(e)})`, code: 'ERR_MAPPING_INVALID_FILE' }] };
  }
  return loadMapping(text, file);
}
