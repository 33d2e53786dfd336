/** A raw WebSocket client for protocol tests: send objects, await the next message (of a type). */
import WebSocket from 'ws';
import type { MessageOf, ServerMessage } from '../../protocol';

type ServerType = ServerMessage['type'];
type Waiter = { type: ServerType | undefined; resolve: (message: ServerMessage) => void };

export interface ConnectOptions {
  headers?: Record<string, string> | undefined;
  origin?: string;
}

export class TestClient {
  /** Messages received and not yet taken by `next`. */
  readonly inbox: ServerMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: Waiter[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => this.receive(JSON.parse(String(data)) as ServerMessage));
    this.closed = new Promise((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  }

  static connect(url: string, options: ConnectOptions = {}): Promise<TestClient> {
    const socket = new WebSocket(url, { headers: options.headers, origin: options.origin });
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new TestClient(socket)));
      socket.once('error', reject);
      socket.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
    });
  }

  /** The close code, once the socket closes; rejects if it is still open after `timeoutMs`. */
  closeCode(timeoutMs = 3000): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([this.closed.then(({ code }) => code), timeout]).finally(() => clearTimeout(timer));
  }

  send(message: object): void {
    this.socket.send(JSON.stringify(message));
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.socket.send(data, { binary });
  }

  /** The next message of `type` (any type when omitted); earlier messages of other types stay queued. */
  next<T extends ServerType>(type: T, timeoutMs?: number): Promise<MessageOf<ServerMessage, T>>;
  next(type?: ServerType, timeoutMs?: number): Promise<ServerMessage>;
  next(type?: ServerType, timeoutMs = 3000): Promise<ServerMessage> {
    const index = this.inbox.findIndex((m) => type === undefined || m.type === type);
    if (index >= 0) return Promise.resolve(this.inbox.splice(index, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        type,
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        const queued = this.inbox.map((m) => m.type).join(', ') || 'nothing';
        reject(new Error(`no ${type ?? 'message'} within ${timeoutMs} ms (queued: ${queued})`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Resolves if no message of `type` (any type when omitted) arrives within `ms`; rejects otherwise. */
  async nothing(type: ServerType | undefined, ms: number): Promise<void> {
    const arrived = await this.next(type, ms).then(
      (message) => message,
      () => undefined,
    );
    if (arrived) throw new Error(`unexpected ${arrived.type}: ${JSON.stringify(arrived).slice(0, 300)}`);
  }

  /** Sends a request and collects its `events` pages (not live broadcasts) until `sync_complete` for its repository. */
  async collect(request: { type: string; repository: string; [field: string]: unknown }): Promise<MessageOf<ServerMessage, 'events'>[]> {
    this.send(request);
    const pages: MessageOf<ServerMessage, 'events'>[] = [];
    for (;;) {
      const message = await this.next();
      if (message.type === 'events' && message.repository === request.repository && message.hasMore !== undefined) pages.push(message);
      else if (message.type === 'sync_complete' && message.repository === request.repository) return pages;
      else if (message.type === 'error') throw new Error(`server error: ${message.code} ${message.message}`);
    }
  }

  async close(): Promise<void> {
    if (this.socket.readyState !== WebSocket.CLOSED) {
      this.socket.close();
      await this.closed;
    }
  }

  private receive(message: ServerMessage): void {
    const index = this.waiters.findIndex((w) => w.type === undefined || w.type === message.type);
    if (index >= 0) this.waiters.splice(index, 1)[0]!.resolve(message);
    else this.inbox.push(message);
  }
}

export interface AuthedClient extends TestClient {
  connectionId: string;
  namespace: string;
  principal: string;
  /** The largest frame the server said it takes. */
  maxMessageBytes: number | undefined;
}

/** Connects and authenticates; rejects unless the server answers `auth_success`. */
export async function authed(url: string, token?: string, options?: ConnectOptions): Promise<AuthedClient> {
  const client = await TestClient.connect(url, options);
  client.send(token === undefined ? { type: 'auth' } : { type: 'auth', token });
  const reply = await client.next();
  if (reply.type !== 'auth_success') {
    await client.close();
    throw new Error(`auth refused: ${JSON.stringify(reply)}`);
  }
  const { connectionId = '', namespace = '', principal = '', maxMessageBytes } = reply;
  return Object.assign(client, { connectionId, namespace, principal, maxMessageBytes });
}

/** Opens a socket as a page of `origin` and tells whether the server refused it as it should:
 *  one `origin_refused` error, then a 1008 close. */
export async function refusedAsOrigin(url: string, origin: string, headers?: Record<string, string>): Promise<boolean> {
  const client = await TestClient.connect(url, { origin, headers });
  const code = await client.closeCode();
  const [error, ...more] = client.inbox;
  return code === 1008 && more.length === 0 && error?.type === 'error' && error.code === 'origin_refused';
}
