/**
 * The HL7 v2 file drop (issue #4, DESIGN §2, §6): polls a folder; each file (one message or many, FHS/BHS
 * batches) is split, judged message by message (acceptance.ts), stored in the inbox and only then moved:
 *
 *   settled file → bytes → text → messages → verdicts → ONE inbox commit → processed/ or error/ (+ reason file)
 *
 * - Never moved before it is stored. A crash between the commit and the move is harmless: the next scan stores
 *   the same file again, every message is a duplicate (accepted ones by MSH-10, refused ones by a hash of their
 *   text), so nothing is applied twice, and the move happens then.
 * - A file still being written is left alone until its size and mtime have not changed for `settleMs`; a file
 *   that changes between its read and its move is not moved (it is read again next poll).
 * - processed/ when every message was accepted (a duplicate of an accepted message included); else error/ with
 *   `<name>.error.txt` beside it. A file that holds no message at all (empty, binary, not HL7) is one rejected
 *   row with the whole text. Nothing in the target folder is overwritten: a clash gets a suffix (`a.1.hl7`).
 * - Read, store and move errors never stop the poll loop: the file stays where it is and is tried next poll.
 * - Logs name a file by `fileRef` (the first 12 hex digits of the sha256 of its base name), never by its name:
 *   some EHRs put the patient's name in file names. Staff find the file by name in processed/ or error/ and in
 *   the reason file; `printf %s NAME | sha256sum` gives its ref.
 */
import { createHash } from 'node:crypto';
import { type Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Mapping } from '../../src/core/mapping/types';
import { BridgeError } from '../../src/errors';
import type { Logger } from '../../src/log';
import type { AcceptResult, Store } from '../../src/store';
import { decodeText, type ChannelRules } from './acceptance';
import { judgeFile, reasonText, type Counts } from './file-drop-judge';
import { errorCode, moveAside } from './move-aside';

export interface FileDropOptions {
  /** The channel name: the inbox `source`, the key of duplicate detection and of `status` counts. */
  readonly name: string;
  /** The watched folder; it must exist. */
  readonly dir: string;
  /** Where stored files go when every message was accepted (default `<dir>/processed`, created when missing). */
  readonly processedDir?: string;
  /** Where the other stored files go, each with its reason file (default `<dir>/error`, created when missing). */
  readonly errorDir?: string;
  /** File name endings taken, case-insensitive (default `.hl7 .txt .dat .msg`); [] takes every file. */
  readonly extensions?: readonly string[];
  /** Time between scans, in ms (default 2,000). */
  readonly pollMs?: number;
  /**
   * A file is read once two scans at least this many ms apart saw the same size and mtime (default 1,000; 0 reads
   * at once): a writer still writing is never read half-way.
   */
  readonly settleMs?: number;
  readonly store: Pick<Store, 'inbox'>;
  readonly mapping: Mapping;
  /** MSH-11.1 values the channel takes; others are stored as rejected. Undefined: any. */
  readonly processingIds?: readonly string[];
  /** How bytes become text: UTF-8 (default; invalid UTF-8 is read byte for byte as Latin-1) or Latin-1. */
  readonly encoding?: 'utf-8' | 'latin1';
  readonly log: Logger;
  readonly now?: () => Date;
  /** Called after each file that stored something new (the daemon wakes its ingest loop). */
  readonly onStored?: () => void;
}

/** What one scan did. `messages` = accepted + rejected + duplicate. */
export interface FileDropScan {
  /** Files stored and moved. */
  readonly files: number;
  readonly messages: number;
  readonly accepted: number;
  readonly rejected: number;
  /** Messages already stored on this channel (a file dropped again, or stored before a crash): not stored again. */
  readonly duplicate: number;
  /** Files left in place to be tried next poll (a read, store or move failed). */
  readonly failedFiles: number;
  /** Files not read yet because they changed within `settleMs`. */
  readonly settling: number;
}

export interface FileDrop {
  readonly name: string;
  /** Runs one scan now (after the one in flight, if any). */
  scanNow(): Promise<FileDropScan>;
  /** Stops the poll loop; the file in flight is stored and moved first. */
  close(): Promise<void>;
}

export const FILE_DROP_DEFAULTS = {
  extensions: ['.hl7', '.txt', '.dat', '.msg'],
  pollMs: 2000,
  settleMs: 1000,
} as const;

/** Names writers use while a file is incomplete (FTP/SFTP clients, browsers): never read. */
const TEMP_SUFFIXES = ['.tmp', '.part', '.partial', '.filepart', '.crdownload'];

interface Candidate {
  readonly name: string;
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

/** A file stored but not yet moved (the move failed): only the move is tried again while the file is unchanged. */
interface PendingMove {
  readonly size: number;
  readonly mtimeMs: number;
  readonly toError: boolean;
  readonly reason?: string;
  readonly counts: Counts;
}

/**
 * Checks the folders and starts polling (first scan after `pollMs`). Throws BridgeError('ERR_CONFIG_INVALID')
 * naming the path when `dir` is missing or unreadable, or processed/error cannot be created.
 */
export async function startFileDrop(options: FileDropOptions): Promise<FileDrop> {
  const dir = path.resolve(options.dir);
  const processedDir = path.resolve(options.processedDir ?? path.join(dir, 'processed'));
  const errorDir = path.resolve(options.errorDir ?? path.join(dir, 'error'));
  const extensions = (options.extensions ?? FILE_DROP_DEFAULTS.extensions).map((e) => e.toLowerCase());
  const pollMs = options.pollMs ?? FILE_DROP_DEFAULTS.pollMs;
  const settleMs = options.settleMs ?? FILE_DROP_DEFAULTS.settleMs;
  const encoding = options.encoding ?? 'utf-8';
  const now = options.now ?? (() => new Date());
  const log = options.log.child({ channel: options.name, connector: 'hl7v2-file' });
  const rules: ChannelRules = { mapping: options.mapping, ...(options.processingIds !== undefined && { processingIds: options.processingIds }) };
  await prepareFolders(options.name, dir, processedDir, errorDir);

  /** Last (size, mtime) seen per file name and since when (settle check). */
  const observed = new Map<string, { size: number; mtimeMs: number; since: number }>();
  const pendingMoves = new Map<string, PendingMove>();
  /** The last problem logged per file name, so that a file failing every poll is logged once per problem. */
  const complaints = new Map<string, string>();
  const complain = (name: string, problem: string, level: 'warn' | 'error', msg: string, fields: Record<string, unknown>): void => {
    const first = complaints.get(name) !== problem;
    complaints.set(name, problem);
    log[first ? level : 'debug'](msg, { fileRef: fileRef(name), ...fields });
  };

  const takes = (name: string): boolean => {
    const lower = name.toLowerCase();
    if (name.startsWith('.') || TEMP_SUFFIXES.some((s) => lower.endsWith(s))) return false;
    return extensions.length === 0 || extensions.some((e) => lower.endsWith(e));
  };

  const settled = (name: string, st: Stats, at: number): boolean => {
    if (settleMs === 0) return true;
    const seen = observed.get(name);
    if (seen === undefined || seen.size !== st.size || seen.mtimeMs !== st.mtimeMs) {
      observed.set(name, { size: st.size, mtimeMs: st.mtimeMs, since: at });
      return false;
    }
    return at - seen.since >= settleMs;
  };

  /** Files ready to read, oldest first (mtime, then name), and how many are still settling. */
  const listReady = async (): Promise<{ ready: Candidate[]; settling: number }> => {
    const entries = await fs.readdir(dir, { withFileTypes: true });
    const at = now().getTime();
    const present = new Set<string>();
    const ready: Candidate[] = [];
    let settling = 0;
    for (const entry of entries) {
      if (!entry.isFile() || !takes(entry.name)) continue;
      const file = path.join(dir, entry.name);
      let st: Stats;
      try {
        st = await fs.stat(file);
      } catch {
        continue; // gone since the listing
      }
      present.add(entry.name);
      if (settled(entry.name, st, at)) ready.push({ name: entry.name, path: file, size: st.size, mtimeMs: st.mtimeMs });
      else settling += 1;
    }
    for (const known of [observed, pendingMoves, complaints]) for (const name of known.keys()) if (!present.has(name)) known.delete(name);
    ready.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { ready, settling };
  };

  /** Moves a stored file; false (logged) when it cannot be moved now. */
  const move = async (c: Candidate, plan: PendingMove): Promise<boolean> => {
    try {
      const st = await fs.stat(c.path);
      if (st.size !== c.size || st.mtimeMs !== c.mtimeMs) {
        log.warn('file changed while it was stored: read again next poll', { fileRef: fileRef(c.name) });
        observed.delete(c.name);
        pendingMoves.delete(c.name);
        return false;
      }
      await moveAside(c.path, plan.toError ? errorDir : processedDir, c.name, plan.reason);
      pendingMoves.delete(c.name);
      complaints.delete(c.name);
      return true;
    } catch (e) {
      pendingMoves.set(c.name, plan);
      const code = errorCode(e);
      complain(c.name, `move:${code}`, 'error', 'file stored but not moved: check the folders\' permissions; the move is tried again next poll', { code, to: plan.toError ? 'error' : 'processed' });
      return false;
    }
  };

  type FileResult = { kind: 'moved'; messages: number; counts: Counts } | { kind: 'failed' | 'store-failed' | 'changed' };

  const processFile = async (c: Candidate): Promise<FileResult> => {
    const pending = pendingMoves.get(c.name);
    if (pending !== undefined && pending.size === c.size && pending.mtimeMs === c.mtimeMs) {
      if (!(await move(c, pending))) return { kind: 'failed' };
      log.info('file moved after an earlier failure', { fileRef: fileRef(c.name), ...pending.counts, movedTo: pending.toError ? 'error' : 'processed' });
      return { kind: 'moved', messages: 0, counts: { accepted: 0, rejected: 0, duplicate: 0 } };
    }
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(c.path);
    } catch (e) {
      const code = errorCode(e);
      complain(c.name, `read:${code}`, 'warn', 'file cannot be read: tried again next poll', { code });
      return { kind: 'failed' };
    }
    if (bytes.length !== c.size) {
      observed.delete(c.name);
      return { kind: 'changed' };
    }
    const at = now();
    const judged = judgeFile(decodeText(bytes, encoding), options.name, rules, at, log);
    let results: AcceptResult[];
    try {
      results = await options.store.inbox.acceptInbox(judged.map((j) => j.item));
    } catch (e) {
      complain(c.name, `store:${errorCode(e)}`, 'error', 'file not stored: left in place, tried again next poll', { messages: judged.length, error: e });
      return { kind: 'store-failed' };
    }
    if (options.onStored !== undefined && results.some((r) => !r.duplicate)) options.onStored();
    const counts: Counts = { accepted: 0, rejected: 0, duplicate: 0 };
    judged.forEach((j, i) => {
      if (results[i]?.duplicate === true) counts.duplicate += 1;
      else if (j.verdict.outcome === 'accept') counts.accepted += 1;
      else counts.rejected += 1;
    });
    const toError = judged.some((j) => j.verdict.outcome !== 'accept');
    const plan: PendingMove = {
      size: c.size,
      mtimeMs: c.mtimeMs,
      toError,
      counts,
      ...(toError && { reason: reasonText(c.name, options.name, at, judged, results, counts) }),
    };
    if (!(await move(c, plan))) return { kind: 'failed' };
    log.info('file stored', { fileRef: fileRef(c.name), bytes: c.size, messages: judged.length, ...counts, movedTo: toError ? 'error' : 'processed' });
    return { kind: 'moved', messages: judged.length, counts };
  };

  let closed = false;
  const scan = async (): Promise<FileDropScan> => {
    const total = { files: 0, messages: 0, accepted: 0, rejected: 0, duplicate: 0, failedFiles: 0, settling: 0 };
    let listing: { ready: Candidate[]; settling: number };
    try {
      listing = await listReady();
    } catch (e) {
      const code = errorCode(e);
      complain('', `list:${code}`, 'warn', 'file drop folder cannot be read: tried again next poll', { code });
      return total;
    }
    complaints.delete('');
    total.settling = listing.settling;
    let storeFailures = 0;
    for (const c of listing.ready) {
      // Two files in a row not stored: the store is down, the others wait for the next poll. (After one, the
      // next file is still tried, so that one file the store refuses cannot hold up the folder.)
      if (closed || storeFailures >= 2) break;
      const r = await processFile(c);
      storeFailures = r.kind === 'store-failed' ? storeFailures + 1 : 0;
      if (r.kind === 'changed') total.settling += 1;
      else if (r.kind !== 'moved') total.failedFiles += 1;
      else {
        total.files += 1;
        total.messages += r.messages;
        total.accepted += r.counts.accepted;
        total.rejected += r.counts.rejected;
        total.duplicate += r.counts.duplicate;
      }
    }
    return total;
  };

  // Scans run one at a time: the poll loop and scanNow() share this chain.
  let chain: Promise<unknown> = Promise.resolve();
  const runScan = (): Promise<FileDropScan> => {
    const next = chain.then(scan);
    chain = next.catch(() => undefined);
    return next;
  };
  let timer: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    if (closed) return;
    timer = setTimeout(() => {
      timer = undefined;
      runScan()
        .catch((e: unknown) => log.error('file drop scan failed', { error: e }))
        .finally(schedule);
    }, pollMs);
  };
  schedule();
  log.info('file drop started', { dir, pollMs, settleMs, extensions });

  let closing: Promise<void> | undefined;
  return {
    name: options.name,
    scanNow: runScan,
    close() {
      closing ??= (async () => {
        closed = true;
        if (timer !== undefined) clearTimeout(timer);
        await chain;
        log.info('file drop stopped');
      })();
      return closing;
    },
  };
}

/** Checks the watched folder and creates processed/ and error/; any problem is a start-up error naming the path. */
async function prepareFolders(name: string, dir: string, processedDir: string, errorDir: string): Promise<void> {
  const refuse = (what: string): never => {
    throw new BridgeError('ERR_CONFIG_INVALID', `connector ${name}: ${what}`);
  };
  try {
    if (!(await fs.stat(dir)).isDirectory()) refuse(`dir ${dir} is not a folder`);
    await fs.readdir(dir);
  } catch (e) {
    if (e instanceof BridgeError) throw e;
    refuse(errorCode(e) === 'ENOENT' ? `dir ${dir} does not exist` : `dir ${dir} cannot be read (${errorCode(e)})`);
  }
  for (const [option, target] of [['processedDir', processedDir], ['errorDir', errorDir]] as const) {
    if (target === dir) refuse(`${option} ${target} is the watched folder itself`);
    try {
      await fs.mkdir(target, { recursive: true });
    } catch (e) {
      refuse(`${option} ${target} cannot be created (${errorCode(e)})`);
    }
  }
}

/** How a file is named in logs: its base name may hold a patient's name. */
function fileRef(name: string): string {
  return createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 12);
}

