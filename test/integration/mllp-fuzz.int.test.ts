/**
 * Fuzzing the MLLP listener (issue #4): at least 10,000 mutated messages (bit flips, truncation, wrong delimiters,
 * missing terminators, huge fields, NUL bytes, invalid UTF-8, CR/LF variants, empty frames, binary garbage between
 * frames) on several connections at once → the listener never crashes, answers every complete frame, stores every
 * message it answered, and keeps serving well-formed traffic on other connections meanwhile.
 *
 * - Input comes from a seeded PRNG (synthetic ADT messages and the public samples as the base). A failure names
 *   its seed; `FUZZ_SEED=<n> npx jest test/integration/mllp-fuzz.int.test.ts` replays the same byte streams.
 * - The client side tracks which complete frames each fuzz connection sent, mirroring the framing rules of
 *   connectors/hl7v2/framing.ts in its own code (outside a frame everything but 0x0B is skipped; 0x1C ends a
 *   frame and eats one following 0x0D; a 0x0B inside a frame ends it as unterminated and starts the next).
 * - The oracle for each frame: oversized → AR, unterminated → AE, else the outcome of `judgeMessage`. Whether it
 *   is answered at all depends on MSH-15 (enhanced mode: NE never, ER only refusals, SU only accepts), read with
 *   the listener's own lenient header reader because the ACK is built from what that reader finds. One
 *   connection's ACKs come in the order of its frames, so they are matched position by position.
 * - Every connection ends with 0x1C 0x0D (ending any frame left open) and a well-formed sentinel message: its
 *   ACK arriving means every earlier frame of that connection has been answered.
 */
import { randomInt, createHash } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { PassThrough } from 'node:stream';
import { judgeMessage } from '../../connectors/hl7v2/acceptance';
import { readAckHeader, type AckOutcome } from '../../connectors/hl7v2/ack';
import { frame } from '../../connectors/hl7v2/framing';
import { startMllpListener, type MllpListener } from '../../connectors/hl7v2/mllp-listener';
import { splitHl7 } from '../../src/core/hl7/message';
import { createLogger } from '../../src/log';
import type { InboxRow, Store } from '../../src/store';
import { describeEachDatabase } from '../helpers/db';
import { readPublicFixtures } from '../helpers/fixtures';
import { bundledMapping } from '../helpers/mappings';
import { ackSummary, adtMessage, MllpTestClient } from '../helpers/mllp';

jest.setTimeout(120_000);

const mapping = bundledMapping('hl7v2');
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : randomInt(2 ** 31);
/** Small enough that some huge fields exceed it (answered AR, first bytes kept), large enough that others fit. */
const MAX_BYTES = 64 * 1024;
const FUZZ_CONNECTIONS = 4;
const MESSAGES_PER_CONNECTION = 2_600;
const GOOD_CONNECTIONS = 2;
/** Each well-formed message on a good connection must be answered AA within this, the whole time. */
const GOOD_ACK_BOUND_MS = 2_000;
/** A fuzz connection must get its next ACK within this (commits of a few hundred frames each). */
const FUZZ_ACK_BOUND_MS = 30_000;

const SB = 0x0b;
const EB = 0x1c;
const CR = 0x0d;

/** The public samples' messages, as bases for mutation (none when ../shared is absent outside CI). */
const SAMPLE_MESSAGES = (readPublicFixtures('hl7') ?? []).flatMap((f) => splitHl7(f.text).map((m) => m.text));

describeEachDatabase('MLLP listener under fuzzing', (db) => {
  test(`≥ ${FUZZ_CONNECTIONS * MESSAGES_PER_CONNECTION} mutated messages on ${FUZZ_CONNECTIONS} connections: every complete frame answered once and stored; ${GOOD_CONNECTIONS} good connections answered AA within ${GOOD_ACK_BOUND_MS} ms throughout`, async () => {
    await db.withStore(async (store) => {
      const problems = await fuzzOnce(store, SEED);
      if (problems.length > 0) throw new Error(`FUZZ_SEED=${SEED} reproduces this:\n${problems.slice(0, 40).join('\n')}${problems.length > 40 ? `\n… ${problems.length - 40} more` : ''}`);
    });
  });

  // Found by the fuzzer; kept as plain cases so that the failure is obvious without a seed.
  test('a frame holding a NUL byte is answered AE and stored as rejected; the connection goes on', async () => {
    await db.withStore(async (store) => {
      await withListener(store, async (listener) => {
        const c = await MllpTestClient.connect(listener.port);
        try {
          const withNul = adtMessage('NUL1').replace('Testchild', 'Test\u0000child');
          c.sendFrame(withNul);
          const first = firstAckOrClose(c);
          const next = c.send(adtMessage('NUL2')).catch((e: Error) => `no ACK: ${e.message}`);
          expect(await first).toMatch(/^MSH\|[^\r]*\rMSA\|AE\|NUL1\|/);
          expect(ackSummary(await next)).toEqual({ code: 'AA', controlId: 'NUL2' });
          const [rejected] = await store.inbox.listRejected({ limit: 5 });
          expect(rejected).toMatchObject({ controlId: 'NUL1', errorCode: 'ERR_HL7_UNPARSEABLE' });
          expect(storedForm(rejected?.raw ?? '')).toBe(storedForm(withNul));
        } finally {
          await c.close();
        }
      });
    });
  });

  test('a message whose MSH-1 is not one ASCII character (😀) gets an ACK its sender can read, stored as sent and replayed identically', async () => {
    await db.withStore(async (store) => {
      await withListener(store, async (listener) => {
        const c = await MllpTestClient.connect(listener.port);
        try {
          const text = adtMessage('EMOJI1').replaceAll('|', '😀');
          const ack = await c.send(text);
          expect(ackSummary(ack).code).toMatch(/^A[AER]$/);
          expect(await c.send(text)).toBe(ack);
          const rows = [...(await store.inbox.nextUnprocessed(5)), ...(await store.inbox.listRejected({ limit: 5 }))];
          expect(rows.map((r) => [r.raw, r.ack])).toEqual([[text, ack]]);
        } finally {
          await c.close();
        }
      });
    });
  });

  test('an accepted message with a 4,000-character MSH-10 is answered AA and stored once; the connection goes on', async () => {
    await db.withStore(async (store) => {
      await withListener(store, async (listener) => {
        const c = await MllpTestClient.connect(listener.port);
        try {
          // Incompressible (PostgreSQL compresses long index keys before it checks their size).
          const longId = Array.from({ length: 63 }, (_, i) => createHash('sha256').update(String(i)).digest('hex')).join('').slice(0, 4000);
          c.sendFrame(adtMessage(longId));
          const first = firstAckOrClose(c);
          const next = c.send(adtMessage('LONG2')).catch((e: Error) => `no ACK: ${e.message}`);
          expect(await first).not.toMatch(/^(connection closed|no ACK)/);
          expect(ackSummary(await first)).toEqual({ code: 'AA', controlId: longId });
          expect(ackSummary(await next)).toEqual({ code: 'AA', controlId: 'LONG2' });
          expect(ackSummary(await c.send(adtMessage(longId)))).toEqual({ code: 'AA', controlId: longId });
          expect((await store.inbox.nextUnprocessed(10)).map((r) => r.controlId)).toEqual([longId, 'LONG2']);
        } finally {
          await c.close();
        }
      });
    });
  });
});

/** The next ACK, or words saying the listener closed the connection (it does when a row cannot be stored). */
function firstAckOrClose(c: MllpTestClient): Promise<string> {
  const closed = c.closed.then(() => 'connection closed by the listener: the message was not stored');
  return Promise.race([c.nextAck().catch((e: Error) => `no ACK: ${e.message}`), closed]);
}

/** A listener on channel `fuzz` with a 64 KiB message limit and a low in-flight bound (backpressure is exercised). */
async function withListener(store: Store, fn: (listener: MllpListener, logLines: string[]) => Promise<void>): Promise<void> {
  const logLines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => logLines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== '')));
  const listener = await startMllpListener({ name: 'fuzz', port: 0, store, mapping, maxMessageBytes: MAX_BYTES, maxInFlight: 256, log: createLogger({ level: 'warn', stream }) });
  try {
    await fn(listener, logLines);
  } finally {
    await listener.close();
  }
}

/** Runs the whole scenario once; returns what went wrong, in words (empty: nothing). */
async function fuzzOnce(store: Store, seed: number): Promise<string[]> {
  const problems: string[] = [];
  const streams = Array.from({ length: FUZZ_CONNECTIONS }, (_, k) => generateStream(new Rng(seed + k * 7919), k, `SENTINEL-${k}-${seed}`));
  const messages = streams.reduce((n, s) => n + s.messages, 0);
  if (messages < 10_000) problems.push(`only ${messages} mutated messages generated`);

  await withListener(store, async (listener, logLines) => {
    const fuzzClients = await Promise.all(streams.map(() => MllpTestClient.connect(listener.port)));
    const goodClients = await Promise.all(Array.from({ length: GOOD_CONNECTIONS }, () => MllpTestClient.connect(listener.port)));
    let fuzzing = true;
    const good = goodClients.map((c, k) => keepSendingGood(c, k, () => fuzzing));
    const received = await Promise.all(
      streams.map(async (s, k) => {
        const c = fuzzClients[k]!;
        // An overdue ACK ends the run of this connection: destroying it also releases a writer waiting for 'drain'.
        const reading = readUntil(c, s.sentinel).then((r) => {
          if (r.timedOut) c.socket.destroy();
          return r;
        });
        const [acks] = await Promise.all([reading, writeInChunks(c, s.bytes, new Rng(seed ^ (0x5bd1e995 + k)))]);
        return acks;
      }),
    );
    fuzzing = false;
    const goodResults = await Promise.all(good);

    // The listener is still up and answers a new connection.
    const after = await MllpTestClient.connect(listener.port);
    const afterAck = await after.send(adtMessage('AFTER-FUZZ')).catch((e: Error) => `no ACK: ${e.message}`);
    if (ackSummary(afterAck).code !== 'AA') problems.push(`after fuzzing, a new connection got ${afterAck.slice(0, 200)}`);
    await after.close();
    await Promise.all([...fuzzClients, ...goodClients].map((c) => c.close()));

    const errors = logLines.filter((l) => l.includes('"level":"error"'));
    if (errors.length > 0) problems.push(`${errors.length} error lines logged: ${[...new Set(errors.map(errorGist))].slice(0, 5).join(' | ')}`);

    const rows = await channelRows(store);
    const rowsByAck = new Map(rows.map((r) => [storedForm(r.ack ?? ''), r]));
    const stats = (await store.inbox.channelStats()).find((s) => s.source === 'fuzz');

    // Each fuzz connection: one ACK per answered frame, in order, each the ACK of a stored row.
    const silentTexts = new Set<string>();
    let frames = 0;
    streams.forEach((s, k) => {
      const acks = received[k]!;
      frames += s.frames.length;
      if (acks.closed) problems.push(`connection ${k}: closed by the listener after ${acks.acks.length} ACKs`);
      if (acks.timedOut) problems.push(`connection ${k}: no ACK for ${FUZZ_ACK_BOUND_MS} ms after ${acks.acks.length} ACKs`);
      const expected = s.frames.filter((f) => f.answered);
      for (const f of s.frames) if (!f.answered) silentTexts.add(storedForm(f.text));
      if (acks.acks.length !== expected.length) problems.push(`connection ${k}: ${acks.acks.length} ACKs for ${expected.length} frames to answer`);
      // Only the first mismatch of a connection is reported: one missing or extra ACK shifts all later ones.
      const n = Math.min(acks.acks.length, expected.length);
      for (let i = 0; i < n; i++) {
        const wrong = checkAck(acks.acks[i]!, expected[i]!, rowsByAck);
        if (wrong === undefined) continue;
        problems.push(`connection ${k}, ACK #${i} for frame ${describeFrame(expected[i]!, s.units)}: ${wrong}`);
        break;
      }
    });

    // Good connections: every message answered AA within the bound, and stored as received exactly once.
    const goodIds = new Set<string>();
    goodResults.forEach((g, k) => {
      for (const id of g.sent) goodIds.add(id);
      if (g.problem !== undefined) problems.push(`good connection ${k}: ${g.problem}`);
      if (g.sent.length < 3) problems.push(`good connection ${k}: only ${g.sent.length} messages during fuzzing`);
    });
    const goodRows = rows.filter((r) => r.controlId !== undefined && goodIds.has(r.controlId));
    if (goodRows.length !== goodIds.size || goodRows.some((r) => r.status !== 'received')) {
      problems.push(`good messages: ${goodIds.size} sent, ${goodRows.length} rows, statuses ${[...new Set(goodRows.map((r) => r.status))].join(',')}`);
    }

    // Counts: every frame committed once (duplicates counted, not stored), every stored row answered or silent.
    const allFrames = frames + goodResults.reduce((n, g) => n + g.sent.length, 0) + 1;
    if (stats === undefined) problems.push('no channel stats for fuzz');
    else {
      if (stats.received !== allFrames) problems.push(`channel stats: received ${stats.received}, frames sent ${allFrames}`);
      if (stats.accepted + stats.rejected !== rows.length) problems.push(`channel stats: accepted ${stats.accepted} + rejected ${stats.rejected} ≠ ${rows.length} rows`);
      if (stats.duplicate !== stats.received - rows.length) problems.push(`channel stats: duplicate ${stats.duplicate} ≠ received ${stats.received} − rows ${rows.length}`);
    }
    const answeredAcks = new Set([...received.flatMap((r) => r.acks), ...goodResults.flatMap((g) => g.acks), afterAck].map(storedForm));
    const frameTexts = new Set(streams.flatMap((s) => s.frames.map((f) => storedForm(f.text))));
    // A connection the listener closed leaves stored rows unanswered by design (the sender sends them again).
    const anyClosed = received.some((r) => r.closed || r.timedOut);
    const unanswered = rows.filter((r) => !answeredAcks.has(storedForm(r.ack ?? '')) && !silentTexts.has(storedForm(r.raw)));
    if (!anyClosed && unanswered.length > 0) {
      problems.push(`${unanswered.length} inbox rows stored but their ACK never received as stored, e.g. ${unanswered.slice(0, 3).map((r) => `row ${r.id}: ${JSON.stringify(r.raw.slice(0, 50))}`).join('; ')}`);
    }
    const phantom = rows.filter((r) => !frameTexts.has(storedForm(r.raw)) && !(r.controlId !== undefined && (goodIds.has(r.controlId) || r.controlId === 'AFTER-FUZZ')));
    if (phantom.length > 0) problems.push(`${phantom.length} inbox rows hold text no frame carried, e.g. ${JSON.stringify(phantom[0]!.raw.slice(0, 80))}`);
  });
  return problems;
}

/** What is wrong with `ack` as the answer to `f`, or undefined. */
function checkAck(ack: string, f: TrackedFrame, rowsByAck: ReadonlyMap<string, InboxRow>): string | undefined {
  const { code, controlId } = ackSummary(ack);
  if (code === '') return `the ACK has no MSA segment readable with its own MSH-1: ${JSON.stringify(ack.slice(0, 60))}`;
  const row = rowsByAck.get(storedForm(ack));
  if (row === undefined) return `the ACK (${code} ${JSON.stringify(controlId.slice(0, 40))}) is not the ACK stored with any inbox row`;
  if (storedForm(row.raw) === storedForm(f.text)) {
    // Its own row (or a byte-identical earlier frame's): the code must say the expected outcome.
    if (code[1] !== OUTCOME_LETTER[f.outcome]) return `MSA-1 ${code}, expected the ${f.outcome} letter ${OUTCOME_LETTER[f.outcome]}`;
    if (!f.controlIdEscaped && storedForm(controlId.trim()) !== storedForm(f.controlId.trim())) return `MSA-2 ${JSON.stringify(controlId.slice(0, 40))}, expected ${JSON.stringify(f.controlId.slice(0, 40))}`;
    return undefined;
  }
  // Another row's ACK: only an accepted retransmission (same MSH-10) is answered with the stored ACK.
  if (f.outcome !== 'accept' || row.status !== 'received' || row.dedupeKey !== f.controlId.trim()) {
    return `answered with the ACK of another message (row ${row.id}, ${row.status}, key ${JSON.stringify(row.dedupeKey.slice(0, 40))})`;
  }
  return undefined;
}

const OUTCOME_LETTER: Record<AckOutcome, string> = { accept: 'A', error: 'E', reject: 'R' };

/**
 * Texts compared with what the inbox holds: PostgreSQL text cannot hold NUL, so the store may keep each as U+FFFD
 * (the input was refused as not HL7 text anyway). Everything else must be stored exactly as received.
 */
function storedForm(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text;
}

function errorGist(line: string): string {
  try {
    const j = JSON.parse(line) as { msg?: string; error?: { code?: string; name?: string } };
    return `${j.msg ?? '?'} (${j.error?.code ?? j.error?.name ?? '-'})`;
  } catch {
    return line.slice(0, 120);
  }
}

function describeFrame(f: TrackedFrame, units: readonly Unit[]): string {
  const kinds = [...new Set(units.slice(f.firstUnit, f.lastUnit + 1).map((u) => u.kind))].join('+');
  const flags = [f.unterminated && 'unterminated', f.length > MAX_BYTES && `oversized ${f.length} B`].filter(Boolean).join(', ');
  return `${kinds}${flags === '' ? '' : `, ${flags}`}, ${f.length} bytes, expected ${f.outcome}: ${JSON.stringify(f.text.slice(0, 60))}`;
}

/** Every inbox row of the fuzz channel. */
async function channelRows(store: Store): Promise<InboxRow[]> {
  const rows = [...(await store.inbox.nextUnprocessed(1_000_000)), ...(await store.inbox.listRejected({ limit: 1_000_000 }))];
  return rows.filter((r) => r.source === 'fuzz');
}

// ---------------------------------------------------------------------------------------------------------------
// Clients

interface Received {
  readonly acks: string[];
  closed: boolean;
  timedOut: boolean;
}

/** Collects ACKs until the one answering the sentinel (or the connection closes, or an ACK is overdue). */
async function readUntil(c: MllpTestClient, sentinel: string): Promise<Received> {
  const out: Received = { acks: [], closed: false, timedOut: false };
  const closed = c.closed.then(() => 'closed' as const);
  let lastAck = performance.now();
  for (;;) {
    // Short waits, so that nothing is left waiting long after the connection closed.
    const next = await Promise.race([c.nextAck(500).catch(() => 'tick' as const), closed]);
    if (next === 'closed') {
      // ACKs that arrived just before the close are still counted.
      while (c.pending() > 0) out.acks.push(await c.nextAck());
      out.closed = true;
      return out;
    }
    if (next === 'tick') {
      if (performance.now() - lastAck < FUZZ_ACK_BOUND_MS) continue;
      out.timedOut = true;
      return out;
    }
    lastAck = performance.now();
    out.acks.push(next);
    if (ackSummary(next).controlId === sentinel) return out;
  }
}

/** Writes `bytes` in random chunks (1 byte to 128 KiB), honouring backpressure, letting the event loop run between. */
async function writeInChunks(c: MllpTestClient, bytes: Buffer, rng: Rng): Promise<void> {
  let at = 0;
  while (at < bytes.length && !c.socket.destroyed) {
    const r = rng.next();
    const size = r < 0.3 ? rng.range(1, 64) : r < 0.8 ? rng.range(65, 8192) : rng.range(8193, 128 * 1024);
    const ok = c.socket.write(bytes.subarray(at, at + size));
    at += size;
    if (!ok) await new Promise<void>((resolve) => {
      c.socket.once('drain', resolve);
      c.socket.once('close', resolve);
    });
    else if (rng.chance(0.2)) await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

interface GoodResult {
  readonly sent: string[];
  readonly acks: string[];
  problem?: string;
}

/** Sends well-formed ADT messages one at a time while `active()`; each must be answered AA within the bound. */
async function keepSendingGood(c: MllpTestClient, k: number, active: () => boolean): Promise<GoodResult> {
  const out: GoodResult = { sent: [], acks: [] };
  for (let n = 0; active(); n++) {
    const id = `GOOD-${k}-${n}`;
    out.sent.push(id);
    const started = performance.now();
    let ack: string;
    try {
      ack = await c.send(adtMessage(id), GOOD_ACK_BOUND_MS);
    } catch {
      out.problem = `message ${id} not answered within ${GOOD_ACK_BOUND_MS} ms`;
      return out;
    }
    out.acks.push(ack);
    const { code, controlId } = ackSummary(ack);
    if (code !== 'AA' || controlId !== id) {
      out.problem = `message ${id} answered ${code} ${controlId} after ${Math.round(performance.now() - started)} ms`;
      return out;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Generation

/** One generated piece of a stream: a (mutated) message in its (maybe broken) framing, or bytes between frames. */
interface Unit {
  readonly kind: string;
  readonly bytes: Buffer;
}

/** A complete frame as the listener will see it, with the oracle's expectation. */
interface TrackedFrame {
  /** The text the listener stores: the first MAX_BYTES bytes, UTF-8 when valid, else byte for byte (Latin-1). */
  readonly text: string;
  readonly length: number;
  readonly unterminated: boolean;
  readonly outcome: AckOutcome;
  readonly answered: boolean;
  /** MSH-10 as the ACK header reader finds it. */
  readonly controlId: string;
  /** True when MSH-10 holds a delimiter or the escape character (MSA-2 then carries it escaped: not compared). */
  readonly controlIdEscaped: boolean;
  readonly firstUnit: number;
  readonly lastUnit: number;
}

interface GeneratedStream {
  readonly bytes: Buffer;
  readonly units: readonly Unit[];
  readonly frames: readonly TrackedFrame[];
  /** Units made from a message (everything but garbage, empty and binary frames and the sentinel). */
  readonly messages: number;
  readonly sentinel: string;
}

function generateStream(rng: Rng, conn: number, sentinel: string): GeneratedStream {
  const units: Unit[] = [];
  let messages = 0;
  while (messages < MESSAGES_PER_CONNECTION) {
    const unit = nextUnit(rng, `F${conn}-${messages}`);
    units.push(unit);
    if (unit.kind !== 'empty-frame' && unit.kind !== 'binary-frame') messages += 1;
    // Garbage without 0x0B is skipped whole; any 0x0B in it opens a frame that the next 0x0B or 0x1C closes.
    const g = rng.next();
    if (g < 0.04) units.push({ kind: 'garbage', bytes: rng.bytes(rng.range(1, 600), [SB]) });
    else if (g < 0.08) units.push({ kind: 'garbage-any-byte', bytes: rng.bytes(rng.range(1, 600)) });
    else if (g < 0.085) units.push({ kind: 'garbage', bytes: rng.bytes(rng.range(1_000, 20_000), [SB]) });
  }
  // 0x1C 0x0D ends a frame left open (or is skipped between frames); the sentinel's ACK closes the connection's run.
  units.push({ kind: 'sentinel', bytes: Buffer.concat([Buffer.from([EB, CR]), frame(adtMessage(sentinel))]) });
  const tracker = new FrameTracker();
  units.forEach((u, i) => tracker.push(u.bytes, i));
  return { bytes: Buffer.concat(units.map((u) => u.bytes)), units, frames: tracker.frames.map(expectationOf), messages, sentinel };
}

function nextUnit(rng: Rng, id: string): Unit {
  const r = rng.next();
  if (r < 0.03) return { kind: 'empty-frame', bytes: Buffer.from(rng.pick([[SB, EB, CR], [SB, EB], [SB, CR, EB, CR]])) };
  if (r < 0.06) return { kind: 'binary-frame', bytes: Buffer.concat([Buffer.from([SB]), rng.bytes(rng.range(1, 2000)), Buffer.from([EB, CR])]) };
  let body: Buffer = Buffer.from(baseMessage(rng, id), 'utf8');
  const kinds: string[] = [];
  const count = r < 0.16 ? 0 : r < 0.85 ? 1 : rng.range(2, 3);
  for (let i = 0; i < count; i++) {
    const m = rng.weighted(MUTATIONS);
    body = m.apply(body, rng);
    kinds.push(m.name);
  }
  const framing = rng.pick(FRAMINGS);
  if (framing.name !== 'framed') kinds.push(framing.name);
  return { kind: kinds.length === 0 ? 'intact' : kinds.join('+'), bytes: framing.wrap(body) };
}

function baseMessage(rng: Rng, id: string): string {
  const r = rng.next();
  if (r < 0.35 && SAMPLE_MESSAGES.length > 0) return rng.pick(SAMPLE_MESSAGES);
  if (r < 0.45) return adtMessage(id, { type: 'ORU^R01^ORU_R01' });
  if (r < 0.5) return adtMessage(id, { patientId: '' });
  if (r < 0.6) return adtMessage(id).replace('Testchild^Kim', 'Tëstchild^Kïm 山田 😀');
  return adtMessage(id);
}

interface Mutation {
  readonly name: string;
  /** Relative frequency. */
  readonly weight: number;
  apply(body: Buffer, rng: Rng): Buffer;
}

const insertAt = (body: Buffer, at: number, bytes: Buffer): Buffer => Buffer.concat([body.subarray(0, at), bytes, body.subarray(at)]);

const MUTATIONS: readonly Mutation[] = [
  {
    name: 'bit-flips',
    weight: 20,
    apply(body, rng) {
      const out = Buffer.from(body);
      for (let n = rng.range(1, 8); n > 0 && out.length > 0; n--) {
        const at = rng.int(out.length);
        out[at] = out[at]! ^ (1 << rng.int(8));
      }
      return out;
    },
  },
  { name: 'truncated', weight: 12, apply: (body, rng) => body.subarray(0, rng.int(body.length + 1)) },
  {
    name: 'delimiters',
    weight: 12,
    apply(body, rng) {
      if (body.length < 8) return body;
      const r = rng.next();
      if (r < 0.3) {
        // Every field separator swapped: legal HL7 with `#` or `!`, not with a letter or a non-ASCII character.
        const sep = rng.pick(['#', '!', '@', 'A', 'é', '😀']);
        const parts: Buffer[] = [];
        let from = 0;
        for (let at = body.indexOf(0x7c); at >= 0; at = body.indexOf(0x7c, from)) {
          parts.push(body.subarray(from, at), Buffer.from(sep, 'utf8'));
          from = at + 1;
        }
        return Buffer.concat([...parts, body.subarray(from)]);
      }
      if (r < 0.65) {
        // MSH-1: another delimiter, a letter, white space, a multi-byte character.
        return Buffer.concat([body.subarray(0, 3), Buffer.from(rng.pick(['^', '#', '!', '~', '\\', '&', ' ', 'A', '\t', '||', '', 'é', '😀'])), body.subarray(4)]);
      }
      // MSH-2: too few, too many, repeated, swapped, holding the field separator.
      return Buffer.concat([body.subarray(0, 4), Buffer.from(rng.pick(['^~\\', '^~\\&#', '^^\\&', '~^\\&', '|~\\&', '^~\\&^~\\&', '', '^~\\&&'])), body.subarray(8)]);
    },
  },
  { name: 'nul', weight: 6, apply: (body, rng) => insertAt(body, rng.int(body.length + 1), Buffer.alloc(rng.range(1, 3))) },
  {
    name: 'invalid-utf8',
    weight: 8,
    apply(body, rng) {
      const bad = rng.pick([[0xff], [0xc3], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82], [0x80, 0x80]]);
      return insertAt(body, rng.int(body.length + 1), Buffer.from(bad));
    },
  },
  {
    name: 'cr-lf',
    weight: 12,
    apply(body, rng) {
      const sep = rng.pick(['\n', '\r\n', '\n\r', ' ', '\r\r', 'mixed']);
      const text = body.toString('latin1');
      const joined = sep === 'mixed' ? text.replace(/\r/g, () => rng.pick(['\r', '\n', '\r\n', ' '])) : text.split('\r').join(sep);
      const edge = rng.pick(['', '\r\n', '\n', '\r\n\r\n']);
      return Buffer.from(rng.chance(0.5) ? `${joined}${edge}` : `${edge}${joined}`, 'latin1');
    },
  },
  {
    name: 'huge-field',
    // About one unit in 150 (≈ 100 KB each): some dozens of huge frames per run, a bounded run time.
    weight: 0.5,
    apply(body, rng) {
      const size = rng.range(16 * 1024, 200 * 1024);
      const field = rng.chance(0.5) ? Buffer.alloc(size, 'x') : rng.printable(size);
      if (rng.chance(0.6)) return Buffer.concat([body, Buffer.from('\rNTE|1||'), field]);
      return insertAt(body, rng.int(body.length + 1), field);
    },
  },
  {
    name: 'long-MSH-10',
    // MSH-10 is ST(20) in v2.5 (199 in v2.7); a sender bug can still put kilobytes there.
    weight: 1,
    apply(body, rng) {
      const text = body.toString('latin1');
      const fields = text.split('\r', 1)[0]!.split('|');
      if (fields.length < 10) return body;
      fields[9] = rng.printable(rng.range(1_000, 6_000)).toString('latin1');
      return Buffer.from(fields.join('|') + text.slice(text.split('\r', 1)[0]!.length), 'latin1');
    },
  },
  {
    name: 'at-size-limit',
    // Exactly maxMessageBytes − 1, maxMessageBytes, maxMessageBytes + 1 bytes: the boundary of "oversized".
    weight: 0.3,
    apply(body, rng) {
      const pad = MAX_BYTES + rng.range(-1, 1) - body.length - 8;
      return pad < 0 ? body : Buffer.concat([body, Buffer.from('\rNTE|1||'), rng.printable(pad)]);
    },
  },
  { name: 'stray-0x0B', weight: 7, apply: (body, rng) => insertAt(body, rng.int(body.length + 1), Buffer.from([SB])) },
  { name: 'stray-0x1C', weight: 5, apply: (body, rng) => insertAt(body, rng.int(body.length + 1), Buffer.from([EB])) },
];

interface Framing {
  readonly name: string;
  wrap(body: Buffer): Buffer;
}

const FRAMINGS: readonly Framing[] = [
  ...Array.from({ length: 14 }, () => ({ name: 'framed', wrap: (b: Buffer) => Buffer.concat([Buffer.from([SB]), b, Buffer.from([EB, CR])]) })),
  { name: 'no-0x1C', wrap: (b) => Buffer.concat([Buffer.from([SB]), b, Buffer.from([CR])]) },
  { name: 'no-0x0D', wrap: (b) => Buffer.concat([Buffer.from([SB]), b, Buffer.from([EB])]) },
  { name: 'no-terminator', wrap: (b) => Buffer.concat([Buffer.from([SB]), b]) },
  { name: 'end-0x1C-LF', wrap: (b) => Buffer.concat([Buffer.from([SB]), b, Buffer.from([EB, 0x0a])]) },
  { name: 'end-0x1C-CRLF', wrap: (b) => Buffer.concat([Buffer.from([SB]), b, Buffer.from([EB, CR, 0x0a])]) },
  { name: 'double-0x0B', wrap: (b) => Buffer.concat([Buffer.from([SB, SB]), b, Buffer.from([EB, CR])]) },
  { name: 'no-0x0B', wrap: (b) => Buffer.concat([b, Buffer.from([EB, CR])]) },
];

/**
 * The client's own account of complete frames (see the module comment for the rules it mirrors). Frames keep
 * their first MAX_BYTES bytes and their full length, like the listener.
 */
class FrameTracker {
  readonly frames: { payload: Buffer; length: number; unterminated: boolean; firstUnit: number; lastUnit: number }[] = [];
  private inFrame = false;
  private afterEnd = false;
  private parts: Buffer[] = [];
  private kept = 0;
  private length = 0;
  private firstUnit = 0;

  push(bytes: Buffer, unit: number): void {
    let start = this.inFrame ? 0 : -1;
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i]!;
      if (this.afterEnd) {
        this.afterEnd = false;
        if (c === CR) continue;
      }
      if (!this.inFrame) {
        if (c === SB) {
          this.inFrame = true;
          this.firstUnit = unit;
          start = i + 1;
        }
        continue;
      }
      if (c !== SB && c !== EB) continue;
      this.keep(bytes.subarray(start, i));
      this.finish(c === SB, unit);
      if (c === EB) {
        this.inFrame = false;
        this.afterEnd = true;
      } else {
        this.firstUnit = unit;
        start = i + 1;
      }
    }
    if (this.inFrame) this.keep(bytes.subarray(start));
  }

  private keep(part: Buffer): void {
    this.length += part.length;
    const room = MAX_BYTES - this.kept;
    if (room <= 0 || part.length === 0) return;
    const kept = part.subarray(0, room);
    this.parts.push(kept);
    this.kept += kept.length;
  }

  private finish(unterminated: boolean, unit: number): void {
    this.frames.push({ payload: Buffer.concat(this.parts), length: this.length, unterminated, firstUnit: this.firstUnit, lastUnit: unit });
    this.parts = [];
    this.kept = 0;
    this.length = 0;
  }
}

/** The oracle: what the listener must answer to one frame, and whether it answers at all. */
function expectationOf(f: FrameTracker['frames'][number]): TrackedFrame {
  const text = isUtf8(f.payload) ? f.payload.toString('utf8') : f.payload.toString('latin1');
  const header = readAckHeader(text);
  let outcome: AckOutcome;
  if (f.length > MAX_BYTES) outcome = 'reject';
  else if (f.unterminated) outcome = 'error';
  else {
    try {
      outcome = judgeMessage(text, { mapping }).outcome;
    } catch {
      outcome = 'error'; // the listener stores it as rejected and answers AE (and logs an error: reported)
    }
  }
  const type = header.acceptAckType;
  const answered = !(type === 'NE' || (type === 'ER' && outcome === 'accept') || (type === 'SU' && outcome !== 'accept'));
  const d = header.delimiters;
  const special = [d.field, d.component, d.repetition, d.escape, d.subcomponent];
  return {
    text,
    length: f.length,
    unterminated: f.unterminated,
    outcome,
    answered,
    controlId: header.controlId,
    controlIdEscaped: special.some((ch) => header.controlId.includes(ch)),
    firstUnit: f.firstUnit,
    lastUnit: f.lastUnit,
  };
}

/** mulberry32: small, fast, seeded. */
class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** In [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** In [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** In [a, b]. */
  range(a: number, b: number): number {
    return a + this.int(b - a + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** Random bytes, avoiding those in `except`. */
  bytes(n: number, except: readonly number[] = []): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) {
      let b = this.int(256);
      while (except.includes(b)) b = this.int(256);
      out[i] = b;
    }
    return out;
  }

  /** Letters and digits (no HL7 delimiter). */
  printable(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = ALPHANUMERIC.charCodeAt(this.int(ALPHANUMERIC.length));
    return out;
  }

  /** One of `items`, each as likely as its weight. */
  weighted<T extends { readonly weight: number }>(items: readonly T[]): T {
    let r = this.next() * items.reduce((sum, i) => sum + i.weight, 0);
    for (const item of items) {
      r -= item.weight;
      if (r < 0) return item;
    }
    return items[items.length - 1]!;
  }
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
