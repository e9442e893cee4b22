/**
 * The compiled CLI for tests that need a real process (SIGTERM, SIGKILL). Built once per change of the sources
 * into node_modules/.cache (never dist/, which a developer may be using), shared by every test file and jest
 * worker: a lock directory serialises the build and a stamp of the sources says whether it is current.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
const OUT = path.join(ROOT, 'node_modules', '.cache', 'portal-bridge-e2e');
const LOCK = `${OUT}.lock`;
const SOURCES = ['src', 'connectors'];

/** Path of a script that runs the compiled CLI like bin/portal-bridge.js: `node <it> start …`. */
export function builtCli(): string {
  const stamp = sourceStamp();
  const stampFile = path.join(OUT, 'stamp');
  const launcher = path.join(OUT, 'portal-bridge.js');
  const current = (): boolean => existsSync(launcher) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp;
  if (current()) return launcher;
  withLock(() => {
    if (current()) return;
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    const tsconfig = path.join(OUT, 'tsconfig.json');
    writeFileSync(
      tsconfig,
      JSON.stringify({
        extends: path.join(ROOT, 'tsconfig.build.json'),
        compilerOptions: { outDir: OUT, rootDir: ROOT, sourceMap: false },
        include: SOURCES.map((s) => path.join(ROOT, s)),
        exclude: SOURCES.map((s) => path.join(ROOT, s, '**', '*.test.ts')),
      }),
    );
    const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', tsconfig], { cwd: ROOT, encoding: 'utf8' });
    if (!existsSync(path.join(OUT, 'src', 'cli', 'main.js'))) throw new Error(`tsc did not build the CLI:\n${tsc.stdout}${tsc.stderr}`);
    writeFileSync(launcher, `'use strict';\nrequire('./src/cli/main.js').main(process.argv).then((code) => { process.exitCode = code; });\n`);
    writeFileSync(stampFile, stamp);
  });
  return launcher;
}

function withLock(fn: () => void): void {
  const deadline = Date.now() + 180_000;
  // On a fresh clone node_modules/.cache does not exist yet: without it every mkdir fails and nobody ever builds.
  mkdirSync(path.dirname(LOCK), { recursive: true });
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // Another jest worker is building; a lock older than the deadline is from a killed run.
      const lock = statSync(LOCK, { throwIfNoEntry: false });
      if (Date.now() > deadline || (lock !== undefined && Date.now() - lock.mtimeMs > 180_000)) rmSync(LOCK, { recursive: true, force: true });
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

function sourceStamp(): string {
  const hash = createHash('sha256');
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const file = path.join(dir, name);
      if (statSync(file).isDirectory()) walk(file);
      else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) hash.update(file).update(readFileSync(file));
    }
  };
  for (const s of SOURCES) walk(path.join(ROOT, s));
  hash.update(readFileSync(path.join(ROOT, 'tsconfig.build.json')));
  return hash.digest('hex');
}
