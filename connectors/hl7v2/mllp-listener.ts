/**
 * The MLLP listener (issue #4, DESIGN §2, §6): HL7 v2 over TCP (or TLS, optionally mutual), many connections at
 * once. Each message is judged (acceptance.ts), stored in the inbox and only then answered:
 *
 *   frame → text → verdict + ACK text → group commit (inbox row with its ACK) → ACK written
 *
 * - Durable before the ACK: the ACK is written after the transaction holding its row has committed. A commit
 *   that fails sends no ACK and closes the connection, so the sender sends again (nothing was stored).
 * - Group commit without a timer (group-commit.ts): what arrives while one commit runs shares the next; a
 *   commit that fails is split in halves until the bad row is alone.
 * - Order: one connection's messages are stored (inbox ids) and answered in the order received.
 * - Retransmission: the same accepted MSH-10 on this channel is not stored again; the stored ACK is sent again.
 * - Bad input never crashes the listener: garbage between frames is skipped, an oversized frame is answered AR
 *   with its first `maxMessageBytes` kept, an unterminated one AE; each is stored as rejected with the reason.
 * - Backpressure: a connection with `maxInFlight` messages waiting for their commit is paused until they are.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Mapping } from '../../src/core/mapping/types';
import type { Logger } from '../../src/log';
import type { AcceptResult, NewInboxItem, Store } from '../../src/store';
import { ackCodeFor, buildAck, HL7_ERROR, readAckHeader, shouldSendAck, type AckCode } from './ack';
import { decodeText, hashKey, inboxItemFor, judgeSafely, type ChannelRules, type Verdict } from './acceptance';
import { frame, MllpDecoder, type MllpFrame } from './framing';
import { GroupCommit } from './group-commit';

export interface MllpTlsOptions {
  /** PEM certificate chain and private key of the listener. */
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** PEM CA bundle: when given, clients must present a certificate it signed (mutual TLS). */
  readonly ca?: string | Buffer;
}

export interface MllpListenerOptions {
  /** The channel name: the inbox `source`, the key of retransmission dedupe and of `status` counts. */
  readonly name: string;
  /** Bind address; 127.0.0.1 by default. */
  readonly host?: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly store: Pick<Store, 'inbox'>;
  readonly mapping: Mapping;
  readonly log: Logger;
  /** MSH-11.1 values the channel takes; others are answered AR. Undefined: any. */
  readonly processingIds?: readonly string[];
  /** Largest message accepted, in bytes (default 4 MiB). */
  readonly maxMessageBytes?: number;
  /** A connection idle this long with nothing in flight is closed (default 10 minutes; 0 never). */
  readonly idleTimeoutMs?: number;
  /** Connections at once (default 200); more are refused by the operating system's backlog handling. */
  readonly maxConnections?: number;
  /** Messages of one connection waiting for their commit before it is paused (default 1,000). */
  readonly maxInFlight?: number;
  /** How bytes become text: UTF-8 (default; invalid UTF-8 is read byte for byte as Latin-1) or Latin-1. */
  readonly encoding?: 'utf-8' | 'latin1';
  readonly tls?: MllpTlsOptions;
  readonly now?: () => Date;
  /** Called after each commit that stored something new (the daemon wakes its ingest loop). */
  readonly onStored?: () => void;
}

export interface MllpListener {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Open connections now. */
  connections(): number;
  /** Commits run and the messages they stored (a duplicate counts too): messages / commits is the group size. */
  commitStats(): { readonly commits: number; readonly messages: number };
  /** Stops accepting, lets messages already read commit and be answered, then closes every connection. */
  close(): Promise<void>;
}

export const MLLP_DEFAULTS = {
  host: '127.0.0.1',
  maxMessageBytes: 4 * 1024 * 1024,
  idleTimeoutMs: 600_000,
  maxConnections: 200,
  maxInFlight: 1000,
} as const;

/** What one frame becomes: the row to store and the ACK to send once it is stored. */
interface Prepared {
  readonly item: NewInboxItem;
  readonly ack: string;
  readonly send: boolean;
  readonly code: AckCode;
}

type CommitOutcome = AcceptResult | { readonly failed: unknown };

export async function startMllpListener(options: MllpListenerOptions): Promise<MllpListener> {
  const host = options.host ?? MLLP_DEFAULTS.host;
  const maxBytes = options.maxMessageBytes ?? MLLP_DEFAULTS.maxMessageBytes;
  const idleTimeoutMs = options.idleTimeoutMs ?? MLLP_DEFAULTS.idleTimeoutMs;
  const maxInFlight = options.maxInFlight ?? MLLP_DEFAULTS.maxInFlight;
  const now = options.now ?? (() => new Date());
  const log = options.log.child({ channel: options.name, connector: 'hl7v2-mllp' });
  const rules: ChannelRules = { mapping: options.mapping, ...(options.processingIds !== undefined && { processingIds: options.processingIds }) };
  const nextAckId = ackIdSequence();
  const sockets = new Set<net.Socket>();

  const commits = new GroupCommit<NewInboxItem, CommitOutcome>(async (items) => {
    const results = await storeIsolated(options.store, items, log);
    if (options.onStored !== undefined && results.some((r) => 'id' in r && !r.duplicate)) options.onStored();
    return results;
  });

  const prepare = (f: MllpFrame, at: Date): Prepared => {
    const text = decodeText(f.payload, options.encoding ?? 'utf-8');
    const verdict = transportVerdict(f, text, maxBytes) ?? judgeSafely(text, rules, (e) => log.error('judging a message failed: stored as rejected', { error: e }));
    const code = ackCodeFor(verdict.header, verdict.outcome);
    const ack = buildAck(verdict.header, { code, ackControlId: nextAckId(at), at, ...(verdict.problem !== undefined && { problem: verdict.problem }) });
    return { item: inboxItemFor(verdict, text, options.name, at, ack), ack, code, send: shouldSendAck(verdict.header, code) };
  };

  const onConnection = (socket: net.Socket): void => {
    sockets.add(socket);
    const decoder = new MllpDecoder(maxBytes);
    let inFlight = 0;
    let paused = false;
    const connLog = log.child({ remote: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}` });
    connLog.debug('connection opened');
    if (idleTimeoutMs > 0) {
      socket.setTimeout(idleTimeoutMs, () => {
        if (inFlight === 0 && !decoder.partial) {
          connLog.info('idle connection closed', { idleTimeoutMs });
          socket.end();
        }
      });
    }
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      let frames: MllpFrame[];
      try {
        frames = decoder.push(chunk);
      } catch (e) {
        connLog.error('MLLP framing failed: connection closed', { error: e });
        socket.destroy();
        return;
      }
      // The frames of one read share its time (they arrived together).
      const at = frames.length > 0 ? now() : undefined;
      for (const f of frames) {
        const prepared = prepare(f, at as Date);
        inFlight += 1;
        if (inFlight >= maxInFlight && !paused) {
          paused = true;
          socket.pause();
        }
        void commits.submit(prepared.item).then((result) => {
          inFlight -= 1;
          if (paused && inFlight < maxInFlight / 2) {
            paused = false;
            socket.resume();
          }
          if ('failed' in result) {
            connLog.error('message not stored: no ACK sent, connection closed so the sender sends it again', { error: result.failed });
            socket.destroy();
            return;
          }
          if (socket.destroyed || !prepared.send) return;
          const answer = result.duplicate && result.ack !== undefined ? result.ack : prepared.ack;
          socket.write(frame(Buffer.from(answer, options.encoding === 'latin1' ? 'latin1' : 'utf8')));
        });
      }
    });
    socket.on('error', (e: NodeJS.ErrnoException) => connLog.debug('connection error', { code: e.code ?? 'error' }));
    socket.on('close', () => {
      sockets.delete(socket);
      if (decoder.skippedBytes > 0 || decoder.partial) connLog.warn('connection closed with bytes outside frames or a partial frame', { skippedBytes: decoder.skippedBytes, partial: decoder.partial });
      else connLog.debug('connection closed');
    });
  };

  const server = options.tls === undefined
    ? net.createServer(onConnection)
    : tls.createServer(
        {
          cert: options.tls.cert,
          key: options.tls.key,
          ...(options.tls.ca !== undefined && { ca: options.tls.ca, requestCert: true, rejectUnauthorized: true }),
        },
        onConnection,
      );
  server.maxConnections = options.maxConnections ?? MLLP_DEFAULTS.maxConnections;
  if (options.tls !== undefined) {
    server.on('tlsClientError', (e: NodeJS.ErrnoException) => log.warn('TLS handshake refused', { code: e.code ?? 'error' }));
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (e) => log.error('MLLP listener error', { error: e }));
  const address = server.address() as net.AddressInfo;
  log.info('MLLP listener started', { host, port: address.port, tls: options.tls !== undefined, mutualTls: options.tls?.ca !== undefined });

  let closing: Promise<void> | undefined;
  return {
    name: options.name,
    host,
    port: address.port,
    connections: () => sockets.size,
    commitStats: () => ({ commits: commits.commits, messages: commits.committedItems }),
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        await commits.drained();
        for (const socket of sockets) socket.end();
        const grace = setTimeout(() => {
          for (const socket of sockets) socket.destroy();
        }, 2000);
        await closed;
        clearTimeout(grace);
        log.info('MLLP listener stopped', { commits: commits.commits, messages: commits.committedItems });
      })();
      return closing;
    },
  };
}

/**
 * Stores a batch in one transaction; when that fails, each half on its own (recursively), so one bad row cannot
 * block the others and costs only log2(batch) extra commits to find.
 */
async function storeIsolated(store: Pick<Store, 'inbox'>, items: readonly NewInboxItem[], log: Logger): Promise<CommitOutcome[]> {
  try {
    return await store.inbox.acceptInbox(items);
  } catch (e) {
    if (items.length === 1) return [{ failed: e }];
    log.warn('batch commit failed: storing its halves apart', { messages: items.length, error: e });
    const half = Math.ceil(items.length / 2);
    return [...(await storeIsolated(store, items.slice(0, half), log)), ...(await storeIsolated(store, items.slice(half), log))];
  }
}

/** Frames refused before their content is judged: cut off by the size limit, or never terminated. */
function transportVerdict(f: MllpFrame, text: string, maxBytes: number): Verdict | undefined {
  if (!f.oversized && !f.unterminated) return undefined;
  const header = readAckHeader(text);
  if (f.oversized) {
    return {
      outcome: 'reject',
      header,
      dedupeKey: hashKey(`${f.length}:${text}`),
      errorCode: 'ERR_HL7_TOO_LARGE',
      problem: { code: HL7_ERROR.internalError, text: `message of ${f.length} bytes exceeds this channel's maxMessageBytes (${maxBytes}); its first ${maxBytes} bytes are kept` },
    };
  }
  return {
    outcome: 'error',
    header,
    dedupeKey: hashKey(`unterminated:${text}`),
    errorCode: 'ERR_HL7_UNPARSEABLE',
    problem: { code: HL7_ERROR.dataTypeError, text: 'MLLP frame not terminated (no 0x1C 0x0D before the next 0x0B): send the message again' },
  };
}

/** ACK control ids: `A` + the listener's start time and a counter in base 36 — unique per listener, ≤ 20 chars. */
function ackIdSequence(): (at: Date) => string {
  const prefix = `A${Date.now().toString(36).toUpperCase()}`;
  let n = 0;
  return () => {
    n += 1;
    return `${prefix}${n.toString(36).toUpperCase().padStart(6, '0')}`;
  };
}
