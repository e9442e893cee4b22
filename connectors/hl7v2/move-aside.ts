/**
 * Moving a file aside durably and without overwriting anything (the file drop's processed/ and error/).
 */
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

export const REASON_SUFFIX = '.error.txt';

/**
 * Moves `from` into `toDir` under its own name, or `name.<n>.ext` when that is taken (never overwrites), with
 * the reason file (if any) written first, so that a file in error/ always has its reason beside it. Assumes
 * one poller per folder. Across file systems: copy (exclusive), fsync, unlink.
 */
export async function moveAside(from: string, toDir: string, name: string, reason: string | undefined): Promise<string> {
  for (let n = 0; ; n++) {
    const to = path.join(toDir, n === 0 ? name : withSuffix(name, n));
    if (await exists(to)) continue;
    if (reason !== undefined) await syncFile(to + REASON_SUFFIX, reason);
    try {
      await fs.rename(from, to);
    } catch (e) {
      if (errorCode(e) !== 'EXDEV') throw e;
      try {
        await fs.copyFile(from, to, fsConstants.COPYFILE_EXCL);
      } catch (copyError) {
        if (errorCode(copyError) === 'EEXIST') continue;
        throw copyError;
      }
      await syncFile(to);
      await fs.unlink(from);
    }
    return to;
  }
}

/** `a.hl7` → `a.1.hl7`; `a` → `a.1`. */
function withSuffix(name: string, n: number): string {
  const ext = path.extname(name);
  return `${name.slice(0, name.length - ext.length)}.${n}${ext}`;
}

function exists(file: string): Promise<boolean> {
  return fs.lstat(file).then(
    () => true,
    (e: unknown) => (errorCode(e) === 'ENOENT' ? false : Promise.reject(e)),
  );
}

/** Flushes a file to disk; with `text`, (over)writes it first. */
async function syncFile(file: string, text?: string): Promise<void> {
  const handle = await fs.open(file, text === undefined ? 'r+' : 'w');
  try {
    if (text !== undefined) await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function errorCode(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : 'error';
}
