/**
 * One thread of bench:server's load generator: it holds a share of the clients, pushes its share
 * of the rate and measures what they see. Kept cheap so that the figures are the server's: an
 * `events` frame is never parsed (its measured events are counted with Buffer.indexOf, and only a
 * sample of clients reads their send times for the delivery latency); only acks and errors,
 * a few per push, go through JSON.parse.
 */
import { parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';

export interface ClientsSetup {
  thread: number;
  /** The sync URL of each client of this thread, and its token. */
  clients: { url: string; token: string }[];
  /** One client in this many records its deliveries' latency (every client counts them). */
  sampleEvery: number;
}

export type ToClients =
  | { type: 'push'; rate: number; seconds: number; measured: boolean }
  | { type: 'settle'; timeoutMs: number }
  | { type: 'close' };

export interface ClientsReport {
  acked: number;
  ackLatencies: number[];
  delivered: number;
  deliveryLatencies: number[];
  errors: [string, number][];
  /** Measured events still unacknowledged after the settle timeout. */
  unacked: number;
}

export type FromClients = { type: 'connected' } | { type: 'pushed' } | { type: 'report'; report: ClientsReport } | { type: 'failed'; error: string };

const RECORDS = 1000;
/** What every measured event carries in its data, right before its send time (see eventText). */
const MEASURED = Buffer.from('"m":1,"t":');
const TYPE_AT = Buffer.byteLength('{"type":"');
const ACK = 'a'.charCodeAt(0);
const EVENTS = Buffer.from('events');

/** Wall-clock milliseconds with sub-millisecond precision, comparable across threads. */
const now = () => performance.timeOrigin + performance.now();

class Clients {
  private readonly sockets: WebSocket[] = [];
  private readonly sentAt = new Map<string, number>();
  private sequence = 0;
  private acked = 0;
  private delivered = 0;
  private readonly ackLatencies: number[] = [];
  private readonly deliveryLatencies: number[] = [];
  private readonly errors = new Map<string, number>();

  constructor(private readonly setup: ClientsSetup) {}

  async connect(): Promise<void> {
    const CONCURRENCY = 50;
    const { clients } = this.setup;
    for (let start = 0; start < clients.length; start += CONCURRENCY) {
      await Promise.all(clients.slice(start, start + CONCURRENCY).map((client, k) => this.connectOne(client, start + k)));
    }
  }

  private connectOne({ url, token }: { url: string; token: string }, index: number): Promise<void> {
    // The server's text is not checked for UTF-8 here: the generator measures, it does not validate.
    const socket = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true });
    this.sockets.push(socket);
    socket.on('error', () => this.count('socket error'));
    const sampled = index % this.setup.sampleEvery === 0;
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.once('open', () => {
        socket.send(JSON.stringify({ type: 'auth', token }));
        socket.once('message', (raw: Buffer) => {
          if (!String(raw).includes('"auth_success"')) return reject(new Error(`auth refused: ${String(raw)}`));
          socket.on('message', (data: Buffer) => this.receive(data, sampled));
          resolve();
        });
      });
    });
  }

  private receive(frame: Buffer, sampled: boolean): void {
    if (frame[TYPE_AT] === ACK) return this.ack(JSON.parse(String(frame)) as { eventIds: string[] });
    if (frame.compare(EVENTS, 0, EVENTS.length, TYPE_AT, TYPE_AT + EVENTS.length) !== 0) {
      const message = JSON.parse(String(frame)) as { type: string; code?: string };
      if (message.type === 'error') this.count(message.code ?? 'unknown');
      return;
    }
    const received = sampled ? now() : 0;
    for (let at = frame.indexOf(MEASURED); at >= 0; at = frame.indexOf(MEASURED, at + MEASURED.length)) {
      this.delivered++;
      if (sampled) this.deliveryLatencies.push(received - sendTimeAt(frame, at + MEASURED.length));
    }
  }

  private ack({ eventIds }: { eventIds: string[] }): void {
    const received = now();
    for (const id of eventIds) {
      const sent = this.sentAt.get(id);
      if (sent === undefined) continue;
      this.sentAt.delete(id);
      if (sent < 0) continue; // warm-up
      this.acked++;
      this.ackLatencies.push(received - sent);
    }
  }

  /** Pushes `rate` events per second round-robin over this thread's clients for `seconds`. */
  push(rate: number, seconds: number, measured: boolean): Promise<void> {
    const start = performance.now();
    let sent = 0;
    return new Promise((resolve) => {
      const tick = setInterval(() => {
        const elapsed = (performance.now() - start) / 1000;
        const due = Math.floor(Math.min(elapsed, seconds) * rate) - sent;
        for (let i = 0; i < due; i++) this.pushOne(measured);
        sent += due;
        if (elapsed < seconds) return;
        clearInterval(tick);
        resolve();
      }, 5);
    });
  }

  private pushOne(measured: boolean): void {
    const n = this.sequence++;
    const socket = this.sockets[n % this.sockets.length]!;
    const eventId = `bench-${this.setup.thread}-${n}`;
    const sent = now();
    // Warm-up events are remembered as negative times: acked, not measured.
    this.sentAt.set(eventId, measured ? sent : -1);
    socket.send(eventText(eventId, n, measured, sent));
  }

  async settle(timeoutMs: number): Promise<ClientsReport> {
    const until = performance.now() + timeoutMs;
    while (this.sentAt.size > 0 && performance.now() < until) await delay(20);
    // The broadcasts of the last commits follow their acks.
    await delay(500);
    const unacked = [...this.sentAt.values()].filter((sent) => sent >= 0).length;
    return {
      acked: this.acked,
      ackLatencies: this.ackLatencies,
      delivered: this.delivered,
      deliveryLatencies: this.deliveryLatencies,
      errors: [...this.errors],
      unacked,
    };
  }

  close(): void {
    for (const socket of this.sockets) socket.terminate();
  }

  private count(error: string): void {
    this.errors.set(error, (this.errors.get(error) ?? 0) + 1);
  }
}

/** The push frame, written by hand: `m` and `t` last in `data`, found in a broadcast by bytes. */
function eventText(eventId: string, n: number, measured: boolean, sent: number): string {
  const record = `record-${n % RECORDS}`;
  // Keys jsonb keeps in this order too (it sorts by length, then bytes): `m` and `t` stay adjacent.
  const data = `{"title":"item ${n}","done":${n % 2 === 0},"i":${n},"m":${measured ? 1 : 0},"t":${sent}}`;
  return `{"type":"push_event","repository":"todos","event":{"eventId":"${eventId}","dataId":"${record}","operation":1,"createdAt":"${new Date().toISOString()}","data":${data}}}`;
}

/** The number written at `at` (digits and a dot), read without decoding the frame. */
function sendTimeAt(frame: Buffer, at: number): number {
  let end = at;
  while (end < frame.length && (frame[end]! === 46 || (frame[end]! >= 48 && frame[end]! <= 57))) end++;
  return Number(frame.toString('latin1', at, end));
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const port = parentPort!;
const clients = new Clients(workerData as ClientsSetup);
const reply = (message: FromClients) => port.postMessage(message);
clients.connect().then(
  () => reply({ type: 'connected' }),
  (error: unknown) => reply({ type: 'failed', error: String(error) }),
);
port.on('message', (message: ToClients) => {
  if (message.type === 'push') void clients.push(message.rate, message.seconds, message.measured).then(() => reply({ type: 'pushed' }));
  else if (message.type === 'settle') void clients.settle(message.timeoutMs).then((report) => reply({ type: 'report', report }));
  else {
    clients.close();
    port.close();
  }
});
