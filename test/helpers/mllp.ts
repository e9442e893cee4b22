/**
 * A plain MLLP test client (raw socket, the listener's own framing module for reading ACKs): sends frames or raw
 * bytes, and hands out the ACKs in the order they arrive.
 */
import net from 'node:net';
import tls from 'node:tls';
import { frame, MllpDecoder } from '../../connectors/hl7v2/framing';

export class MllpTestClient {
  private readonly acks: string[] = [];
  /** Each waiting nextAck: called with the ACK, or with undefined when the connection closed first. */
  private readonly waiters: ((ack: string | undefined) => void)[] = [];
  private isClosed = false;
  private readonly decoder = new MllpDecoder(64 * 1024 * 1024);
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const f of this.decoder.push(chunk)) {
        const ack = f.payload.toString('utf8');
        const waiter = this.waiters.shift();
        if (waiter !== undefined) waiter(ack);
        else this.acks.push(ack);
      }
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        for (const waiter of this.waiters.splice(0)) waiter(undefined);
        resolve();
      }),
    );
  }

  static async connect(port: number, options: { tls?: tls.ConnectionOptions } = {}): Promise<MllpTestClient> {
    const socket = options.tls === undefined ? net.connect({ port, host: '127.0.0.1' }) : tls.connect({ port, host: '127.0.0.1', ...options.tls });
    await new Promise<void>((resolve, reject) => {
      socket.once(options.tls === undefined ? 'connect' : 'secureConnect', () => resolve());
      socket.once('error', reject);
    });
    return new MllpTestClient(socket);
  }

  /** Sends one framed message (segments joined by \r). */
  sendFrame(text: string): void {
    this.socket.write(frame(text));
  }

  /** Sends bytes exactly as given (broken framing, garbage). */
  sendRaw(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  /** The next ACK; a rejection after `timeoutMs`, or as soon as the connection has closed without one. */
  nextAck(timeoutMs = 5000): Promise<string> {
    const ready = this.acks.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.isClosed) return Promise.reject(new Error('connection closed before an ACK'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no ACK within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (ack: string | undefined): void => {
        clearTimeout(timer);
        if (ack === undefined) reject(new Error('connection closed before an ACK'));
        else resolve(ack);
      };
      this.waiters.push(waiter);
    });
  }

  /** Sends one message and waits for its ACK. */
  async send(text: string, timeoutMs = 5000): Promise<string> {
    this.sendFrame(text);
    return this.nextAck(timeoutMs);
  }

  /** ACKs received and not yet taken. */
  pending(): number {
    return this.acks.length;
  }

  async close(): Promise<void> {
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), 1000);
    await this.closed;
    clearTimeout(timer);
  }
}

/** A field of one segment of an HL7 text: `field(ack, 'MSA', 1)`. MSH-n counts MSH-1 as the separator. */
export function hl7Field(text: string, segment: string, n: number): string {
  const line = text.split('\r').find((l) => l.startsWith(`${segment}|`));
  if (line === undefined) return '';
  const fields = line.split('|');
  return (segment === 'MSH' ? fields[n - 1] : fields[n]) ?? '';
}

/** A synthetic ADT^A04 (invented people) with one guardian NK1 + ZNK; `extra` replaces MSH fields by number. */
export function adtMessage(controlId: string, options: { patientId?: string; type?: string; processingId?: string; msh15?: string; msh16?: string } = {}): string {
  const msh = ['MSH', '^~\\&', 'EHRAPP', 'CLINIC', 'PORTAL', 'BRIDGE', '20261101090000', '', options.type ?? 'ADT^A04^ADT_A01', controlId, options.processingId ?? 'P', '2.5.1', '', '', options.msh15 ?? '', options.msh16 ?? ''];
  while (msh[msh.length - 1] === '') msh.pop();
  return [
    msh.join('|'),
    'EVN|A04|20261101090000',
    `PID|1||${options.patientId ?? `P-${controlId}`}^^^CLINIC^MR||Testchild^Kim||20190601|F`,
    `NK1|1|Testparent^Pat|MTH|||^NET^Internet^parent.${controlId.toLowerCase()}@example.org||||||||||||||||||||||||||||G-${controlId}`,
    'ZNK|1|J|N|N|N',
  ].join('\r');
}

/**
 * MSA-1 (the code) and MSA-2 (the control id answered) of an ACK in whatever delimiters it uses: the field
 * separator is read from its own MSH-1, so an ACK to a message with `MSH^~|\&` or `MSH#…` reads too. '' when absent.
 */
export function ackSummary(ack: string): { code: string; controlId: string } {
  // By code point: a separator outside the BMP is one character, two UTF-16 units.
  const sep = ack.startsWith('MSH') ? String.fromCodePoint(ack.codePointAt(3) ?? 0x7c) : '|';
  const msa = ack.split('\r').find((l) => l.startsWith(`MSA${sep}`));
  const fields = msa === undefined ? [] : msa.split(sep);
  return { code: fields[1] ?? '', controlId: fields[2] ?? '' };
}
