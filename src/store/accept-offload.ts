/**
 * The SQLite inbox writer on its own thread (StoreOptions.acceptInWorker; the daemon turns it on). better-sqlite3
 * is synchronous: a commit with `synchronous=FULL` blocks its thread for the fsync, and on the event loop that is
 * time no socket is read and no ACK written. Here the MLLP listener's group commits run on a worker thread
 * (accept-worker.ts) with its own connection to the same file, while the event loop goes on reading and judging
 * the messages that will share the next commit. Durability is unchanged: a batch's promise settles after its
 * transaction has committed (or failed), and only then does the connector answer.
 *
 * Only a top-level acceptInbox goes to the thread; one inside a store transaction runs in that transaction. The
 * two connections are two writers on one WAL file, as with a CLI process beside the daemon: every write
 * transaction takes the lock first (db.ts writeTransaction, BEGIN IMMEDIATE here) and waits up to busy_timeout.
 *
 * The thread starts at the first batch. If it dies, the batches in flight fail (the listener sends no ACK, the
 * sender resends) and the next batch starts a new one. The thread holds the process open only while a batch is in
 * flight.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { AcceptWorkerReply, AcceptWorkerRequest, AcceptWorkerSetup } from './accept-worker';
import type { BatchResult, Row } from './inbox-accept';

interface InFlight {
  resolve(result: BatchResult): void;
  reject(error: Error): void;
}

export class SqliteAcceptWorker {
  private thread: { readonly worker: Worker; readonly inFlight: Map<number, InFlight> } | undefined;
  private nextId = 1;
  /** Set by close(): no batch is taken after it. */
  private closing: Promise<void> | undefined;

  constructor(private readonly setup: AcceptWorkerSetup) {}

  /** Runs one batch on the thread; settles when its transaction has committed or failed. */
  accept(rows: readonly Row[]): Promise<BatchResult> {
    if (this.closing !== undefined) return Promise.reject(new Error('the store is closed'));
    const { worker, inFlight } = this.thread ?? this.start();
    const id = this.nextId++;
    return new Promise<BatchResult>((resolve, reject) => {
      inFlight.set(id, { resolve, reject });
      if (inFlight.size === 1) worker.ref();
      worker.postMessage({ id, rows } satisfies AcceptWorkerRequest);
    });
  }

  /** Lets the batches in flight finish, then closes the thread's connection and ends it. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.stop();
    return this.closing;
  }

  private async stop(): Promise<void> {
    const worker = this.thread?.worker;
    if (worker === undefined) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.ref();
    // Messages are handled in order: the batches already sent commit before the thread reads this.
    worker.postMessage({ close: true } satisfies AcceptWorkerRequest);
    await exited;
  }

  private start(): { worker: Worker; inFlight: Map<number, InFlight> } {
    const worker = newWorker(this.setup);
    // This thread's batches: when it dies, only they fail (a new thread may already run the next ones).
    const inFlight = new Map<number, InFlight>();
    const thread = { worker, inFlight };
    this.thread = thread;
    worker.unref();
    worker.on('message', (reply: AcceptWorkerReply) => {
      const waiting = inFlight.get(reply.id);
      if (waiting === undefined) return;
      inFlight.delete(reply.id);
      if (inFlight.size === 0) worker.unref();
      if ('result' in reply) waiting.resolve(reply.result);
      else waiting.reject(Object.assign(new Error(reply.error.message), reply.error.code === undefined ? {} : { code: reply.error.code }));
    });
    const gone = (reason: Error): void => {
      if (this.thread === thread) this.thread = undefined;
      const waiting = [...inFlight.values()];
      inFlight.clear();
      for (const w of waiting) w.reject(reason);
    };
    worker.on('error', (e) => gone(new Error(`the inbox writer thread failed: ${e.message}`, { cause: e })));
    worker.on('exit', (code) => gone(new Error(`the inbox writer thread stopped (exit code ${code})`)));
    return thread;
  }
}

/**
 * The compiled thread (dist/…/accept-worker.js) when there is one; running from TypeScript sources (the test
 * suite under ts-jest), a bootstrap that compiles the thread's .ts modules with the TypeScript compiler
 * (a dev dependency) as they are required.
 */
function newWorker(setup: AcceptWorkerSetup): Worker {
  const compiled = path.join(__dirname, 'accept-worker.js');
  if (existsSync(compiled)) return new Worker(compiled, { workerData: setup });
  const source = path.join(__dirname, 'accept-worker.ts');
  const bootstrap = `
    const fs = require('node:fs');
    const ts = require(${JSON.stringify(require.resolve('typescript'))});
    require.extensions['.ts'] = (module, filename) => {
      const options = { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true };
      module._compile(ts.transpileModule(fs.readFileSync(filename, 'utf8'), { compilerOptions: options, fileName: filename }).outputText, filename);
    };
    require(${JSON.stringify(source)});`;
  return new Worker(bootstrap, { eval: true, workerData: setup });
}
