/**
 * The Bulk Data `$export` half of the backfill (backfill.ts; FHIR Bulk Data Access IG 2.0, "Export" flow):
 * kick-off with `Prefer: respond-async` → 202 + Content-Location; the status URL is polled, waiting each
 * Retry-After (capped) and reporting X-Progress, until it answers 200 with the manifest; then each output file is
 * streamed line by line (fhir-http `ndjsonLines`: never a whole file in memory) and stored in batches, each batch
 * in one transaction with the cursor's file index and line. A resumed run skips the files done and re-streams the
 * current one, skipping its stored lines. When the server no longer has the export (404/410 on the status URL or
 * a file), it is kicked off again: what was stored already counts as duplicates.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { BridgeError, isBridgeError } from '../../src/errors';
import { parseRetryAfter } from '../../src/portal/rest/error-mapping';
import type { BackfillRun } from './backfill';
import { unreadableLine, type BatchEntry, type ExportFile, type ExportPosition } from './backfill-state';
import { resourceItem } from './inbox-items';

/** The server has no `$export` (kick-off 404/405/501): backfill.ts falls back to paging. */
export class NoBulkExport extends Error {
  override readonly name = 'NoBulkExport';
}

const manifestSchema = z.object({
  transactionTime: z.string().refine((t) => !Number.isNaN(Date.parse(t)), 'not an instant'),
  requiresAccessToken: z.boolean().optional(),
  output: z.array(z.object({ type: z.string(), url: z.string().min(1) })),
  error: z.array(z.unknown()).optional(),
});

/** Kick-offs of one run at most: a server that keeps losing its exports is not chased for ever. */
const MAX_KICK_OFFS = 3;

/** Runs (or resumes) the export; resolves with its transactionTime once the last batch and the done cursor are committed. */
export async function runExport(run: BackfillRun, resume: ExportPosition | undefined): Promise<string> {
  let job = resume ?? (await kickOff(run));
  for (let kickOffs = resume === undefined ? 1 : 0; ; ) {
    try {
      const ready = job.files !== undefined && job.transactionTime !== undefined ? job : await awaitManifest(run, job);
      return await download(run, ready);
    } catch (e) {
      if (!isGone(e) || kickOffs >= MAX_KICK_OFFS) throw e;
      run.log.warn('the server no longer has the export: kicking it off again (what was stored counts as duplicates)', { status: e.status });
      job = await kickOff(run);
      kickOffs += 1;
    }
  }
}

/** Asks the server nicely to drop an export we no longer need (after the last file, or on --restart). Never throws. */
export async function deleteExport(run: BackfillRun, statusUrl: string): Promise<void> {
  try {
    await run.http.request(statusUrl, { method: 'DELETE' });
  } catch (e) {
    run.log.debug('export not deleted on the server (it removes it in its own time)', { error: e });
  }
}

async function kickOff(run: BackfillRun): Promise<ExportPosition> {
  run.report({ phase: 'kick-off' });
  const params = new URLSearchParams({ _type: run.types.join(',') });
  if (run.since !== undefined) params.set('_since', run.since);
  // System level, or the Group's (its id is not logged: it may name a practice or a clinic).
  const operation = run.group === undefined ? '$export' : `Group/${encodeURIComponent(run.group)}/$export`;
  const shown = run.group === undefined ? '$export' : 'Group/[id]/$export';
  let res: Awaited<ReturnType<typeof run.http.request>>;
  try {
    res = await run.http.request(`${operation}?${params.toString()}`, { headers: { accept: 'application/fhir+json', prefer: 'respond-async' } });
  } catch (e) {
    if (isBridgeError(e) && (e.status === 404 || e.status === 405 || e.status === 501)) throw new NoBulkExport(`${shown} answered ${e.status}`);
    throw e;
  }
  const statusUrl = res.headers.get('content-location');
  if (res.status !== 202) throw new BridgeError('ERR_FHIR_MALFORMED', `GET ${shown} answered ${res.status}, not 202 (Prefer: respond-async)`, { status: res.status });
  if (statusUrl === null || statusUrl === '') throw new BridgeError('ERR_FHIR_MALFORMED', `GET ${shown} answered 202 without Content-Location`, { status: 202 });
  const job: ExportPosition = { mode: 'export', statusUrl, fileIndex: 0, line: 0 };
  // Stored at once: a run stopped while the server prepares the files polls the same export when run again.
  await run.commit([], job);
  run.log.info('export kicked off', { level: run.group === undefined ? 'system' : 'group', types: run.types, since: run.since ?? null });
  return job;
}

async function awaitManifest(run: BackfillRun, job: ExportPosition): Promise<ExportPosition> {
  for (let polls = 1; ; polls++) {
    const res = await run.http.request(job.statusUrl);
    if (res.status === 202) {
      const progress = res.headers.get('x-progress') ?? undefined;
      const asked = parseRetryAfter(res.headers.get('retry-after') ?? undefined, run.now().getTime());
      const waitMs = Math.min(asked ?? run.statusPollDefaultWaitMs, run.statusPollMaxWaitMs);
      run.report({ phase: 'waiting', serverProgress: progress?.slice(0, 100) });
      run.log.debug('export in progress', { polls, waitMs, retryAfterMs: asked ?? null });
      await sleep(waitMs);
      continue;
    }
    if (res.status !== 200) throw new BridgeError('ERR_FHIR_MALFORMED', `the export status answered ${res.status}, not 202 or 200`, { status: res.status });
    const manifest = manifestSchema.safeParse(res.body);
    if (!manifest.success) {
      const where = manifest.error.issues[0]?.path.join('.') ?? '';
      throw new BridgeError('ERR_FHIR_MALFORMED', `the export manifest is not a Bulk Data manifest (${where === '' ? 'the body' : where})`, { status: 200 });
    }
    const { transactionTime, output, error } = manifest.data;
    const wanted = new Set<string>(run.types);
    const files: ExportFile[] = output.filter((o) => wanted.has(o.type)).map((o) => ({ type: o.type, url: o.url }));
    const requiresAccessToken = manifest.data.requiresAccessToken ?? true;
    const ready: ExportPosition = { mode: 'export', statusUrl: job.statusUrl, transactionTime, requiresAccessToken, files, fileIndex: 0, line: 0 };
    await run.commit([], ready);
    run.log.info('export ready', { polls, files: files.length, otherTypeFiles: output.length - files.length, errorFiles: error?.length ?? 0, transactionTime });
    if ((error?.length ?? 0) > 0) run.log.warn('the export has error files (OperationOutcomes of the server): not read, the backfill goes on', { errorFiles: error?.length });
    return ready;
  }
}

/** Every file from the cursor's position; the last batch goes with the done cursor and the poller cursors. */
async function download(run: BackfillRun, job: ExportPosition): Promise<string> {
  const files = job.files ?? [];
  const transactionTime = job.transactionTime ?? '';
  const position = (fileIndex: number, line: number): ExportPosition => ({ ...job, fileIndex, line });
  let last: BatchEntry[] = [];
  for (let i = job.fileIndex; i < files.length; i++) {
    const file = files[i]!;
    run.report({ phase: 'downloading', file: { index: i + 1, count: files.length } });
    const skip = i === job.fileIndex ? job.line : 0;
    const rest = await downloadFile(run, job.requiresAccessToken ?? true, file, i, skip, (line) => position(i, line));
    if (i === files.length - 1) last = rest;
    else await run.commit(rest, position(i + 1, 0));
    run.log.debug('export file stored', { file: i + 1, files: files.length, skippedLines: skip });
  }
  const pollerSince = Object.fromEntries(run.types.map((t) => [t, transactionTime]));
  await run.commit(last, { done: true, mode: 'export', transactionTime }, pollerSince);
  await deleteExport(run, job.statusUrl);
  return transactionTime;
}

/**
 * Streams one file, committing a batch every `batchSize` lines; returns the lines after the last full batch,
 * not yet committed. A stream that breaks after some progress is opened again from the last committed line.
 */
async function downloadFile(
  run: BackfillRun,
  requiresAccessToken: boolean,
  file: ExportFile,
  index: number,
  skip: number,
  position: (line: number) => ExportPosition,
): Promise<BatchEntry[]> {
  let committed = skip;
  for (;;) {
    const from = committed;
    let lineNo = 0;
    let batch: BatchEntry[] = [];
    try {
      for await (const line of run.http.ndjsonLines(file.url, requiresAccessToken)) {
        lineNo += 1;
        if (lineNo <= committed) continue;
        batch.push(entryOf(run, file.type, line, lineNo, index));
        if (batch.length >= run.batchSize) {
          await run.commit(batch, position(lineNo));
          committed = lineNo;
          batch = [];
        }
      }
      return batch;
    } catch (e) {
      const progressed = committed > from || batch.length > 0;
      if (!(isBridgeError(e) && e.code === 'ERR_FHIR_UNAVAILABLE' && progressed)) throw e;
      run.log.warn('export file stream broke: reading it again after the last stored line', { file: index + 1, line: committed, error: e });
    }
  }
}

function entryOf(run: BackfillRun, type: string, line: string, lineNo: number, index: number): BatchEntry {
  const at = run.now();
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return { type, item: unreadableLine(line, run.name, at, `line ${lineNo} of file ${index + 1} is not JSON`) };
  }
  return { type, item: resourceItem(parsed, run.name, at) };
}

function isGone(e: unknown): e is BridgeError {
  return isBridgeError(e) && e.code === 'ERR_FHIR_REQUEST' && (e.status === 404 || e.status === 410);
}
