/**
 * A well-behaved client connected through the whole fuzz run, in the namespace the fuzz writes
 * to: its pushes must keep being acked, every frame it gets must decode as a worker decodes it,
 * and at the end it must catch up on exactly what it wrote.
 */
import WebSocket from 'ws';
import {
  decodeFrame,
  MAX_SERVER_FRAME_BYTES,
  Operation,
  ServerMessageSchema,
  type MessageOf,
  type SequencedEvent,
  type ServerMessage,
  type SyncEvent,
} from '../../protocol';
import type { Ledger } from './ledger';
import { preview, type Violations } from './report';

/** The one repository no fuzz connection writes to. */
export const STEADY_REPOSITORY = 'steady-client';
const REPLY_TIMEOUT_MS = 20_000;

type Waiter = { accepts: (message: ServerMessage) => boolean; resolve: (message: ServerMessage) => void };

export class SteadyClient {
  private readonly pushed: SyncEvent[] = [];
  private readonly waiters: Waiter[] = [];
  private counter = 0;
  private closing = false;
  private readonly closed: Promise<void>;

  private constructor(
    private readonly socket: WebSocket,
    private readonly namespace: string,
    private readonly ledger: Ledger,
    private readonly violations: Violations,
  ) {
    socket.on('message', (data) => this.receive(String(data)));
    this.closed = new Promise((resolve) =>
      socket.once('close', (code, reason) => {
        if (!this.closing) violations.add(`the well-behaved client was disconnected: ${code} "${String(reason)}"`);
        resolve();
      }),
    );
  }

  static async connect(syncUrl: string, token: string, namespace: string, ledger: Ledger, violations: Violations): Promise<SteadyClient> {
    const socket = new WebSocket(syncUrl, { maxPayload: MAX_SERVER_FRAME_BYTES });
    // Listening from 'open' on: nothing the server sends first is missed.
    const client = await new Promise<SteadyClient>((resolve, reject) => {
      socket.once('open', () => resolve(new SteadyClient(socket, namespace, ledger, violations)));
      socket.once('error', reject);
    });
    socket.send(JSON.stringify({ type: 'auth', token }));
    const reply = await client.next((m) => m.type === 'auth_success' || m.type === 'error', 'auth_success');
    if (reply.type !== 'auth_success' || reply.namespace !== namespace) throw new Error(`steady client refused: ${JSON.stringify(reply)}`);
    return client;
  }

  /** Pushes `count` new events (one push_event, or a batch) and waits for their ack. */
  async push(count: number): Promise<void> {
    const events = Array.from({ length: count }, () => this.newEvent());
    const eventIds = events.map((e) => e.eventId);
    const message =
      count === 1 ? { type: 'push_event', repository: STEADY_REPOSITORY, event: events[0] } : { type: 'push_events_batch', repository: STEADY_REPOSITORY, events };
    this.socket.send(JSON.stringify(message));
    const reply = await this.next((m) => m.type === 'ack' || m.type === 'error', `ack of ${eventIds[0]}`);
    if (reply.type !== 'ack' || reply.eventIds.join() !== eventIds.join()) throw new Error(`push not acked: ${JSON.stringify(reply)}`);
    this.pushed.push(...events);
    this.ledger.ackedIn(this.namespace, events);
  }

  /** Catches up from sequence 0 on its repository: every event it pushed, nothing else, as pushed. */
  async checkCatchUp(): Promise<void> {
    const pages = await this.stream({ type: 'request_events', repository: STEADY_REPOSITORY }, (m) => m.type === 'sync_complete' && m.repository === STEADY_REPOSITORY);
    const received = pages.flatMap((page) => page.events as SequencedEvent[]).map(({ serverSequence: _, ...event }) => JSON.stringify(event));
    const expected = this.pushed.map((event) => JSON.stringify(event));
    if (received.sort().join('\n') !== expected.sort().join('\n')) {
      this.violations.add(`catch-up of the well-behaved client gave ${received.length} events, not the ${expected.length} it pushed`);
    }
  }

  /** Reads the whole namespace, as a fresh replica would: every page must decode (checked on arrival). */
  async readEverything(): Promise<number> {
    const pages = await this.stream({ type: 'request_all_events' }, (m) => m.type === 'sync_complete' && m.repository === undefined);
    return pages.reduce((sum, page) => sum + page.events.length, 0);
  }

  get connected(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.socket.readyState !== WebSocket.CLOSED) {
      this.socket.close();
      await this.closed;
    }
  }

  private newEvent(): SyncEvent {
    const n = ++this.counter;
    // One record per event, so the compacted catch-up returns every event pushed.
    return { eventId: `s-${n}`, dataId: `steady-${n}`, operation: Operation.update, createdAt: new Date().toISOString(), data: { n } };
  }

  private async stream(request: object, last: (message: ServerMessage) => boolean): Promise<MessageOf<ServerMessage, 'events'>[]> {
    const pages: MessageOf<ServerMessage, 'events'>[] = [];
    // Pages, and the sync_complete of each repository before the last one.
    const collect: Waiter = {
      accepts: (m) => (m.type === 'events' && m.hasMore !== undefined) || (m.type === 'sync_complete' && !last(m)),
      resolve: (m) => {
        if (m.type === 'events') pages.push(m);
        this.waiters.push(collect);
      },
    };
    this.waiters.push(collect);
    this.socket.send(JSON.stringify(request));
    try {
      await this.next(last, JSON.stringify(request));
    } finally {
      const index = this.waiters.indexOf(collect);
      if (index >= 0) this.waiters.splice(index, 1);
    }
    return pages;
  }

  private next(accepts: (message: ServerMessage) => boolean, what: string): Promise<ServerMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new Error(`the well-behaved client got no ${what} within ${REPLY_TIMEOUT_MS / 1000} s`));
      }, REPLY_TIMEOUT_MS);
      const waiter: Waiter = {
        accepts,
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message);
        },
      };
      this.waiters.push(waiter);
    });
  }

  private receive(text: string): void {
    const decoded = decodeFrame(text, ServerMessageSchema, MAX_SERVER_FRAME_BYTES);
    if (!decoded.ok) {
      this.violations.add(`the well-behaved client got a frame it cannot decode (${decoded.error}): ${preview(text)}`);
      return;
    }
    const message = decoded.message;
    if (message.type === 'ping') {
      this.socket.send(JSON.stringify({ type: 'pong' }));
      return;
    }
    if (message.type === 'events' && message.hasMore === undefined) {
      this.ledger.broadcastIn(this.namespace, message.events);
      return;
    }
    const index = this.waiters.findIndex((w) => w.accepts(message));
    if (index >= 0) this.waiters.splice(index, 1)[0]!.resolve(message);
    else this.violations.add(`the well-behaved client got a message it did not ask for: ${preview(text)}`);
  }
}
