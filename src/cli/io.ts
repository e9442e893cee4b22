import { existsSync } from 'node:fs';
import path from 'node:path';

/** Where a command writes. The real CLI passes process streams; tests capture. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};

/** Exit codes (DESIGN §10): 0 ok, 1 runtime failure, 2 usage or config error. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A usage or config problem that the CLI reports and exits 2 on. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

let root: string | undefined;
/** The installed package's root (holds package.json and the bundled mappings/), from src/ or dist/src/. */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json')) || !existsSync(path.join(dir, 'mappings'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the portal-bridge package root');
    dir = up;
  }
  root = dir;
  return dir;
}
