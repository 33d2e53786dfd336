/**
 * One fuzz connection for a whole run: it sends generated frames, predicts each one's answer,
 * checks every reply of the server against the prediction, and opens a new socket whenever the
 * server closes one. The server answers frames in arrival order on two tracks: on arrival
 * (`pong`, `invalid_message`, `too_large`) and after processing (everything else), so replies
 * are matched against two queues.
 */
import { isDeepStrictEqual } from 'node:util';
import WebSocket, { type RawData } from 'ws';
import {
  decodeFrame,
  DEFAULT_PAGE_EVENTS,
  EVENTS_BATCH_FEATURE,
  MAX_SERVER_FRAME_BYTES,
  ServerMessageSchema,
  type ClientMessage,
  type MessageOf,
  type ServerMessage,
  type SyncEvent,
} from '../../protocol';
import { tokenOf } from '../../server/auth';
import { FrameGenerator, type FuzzFrame } from './frames';
import type { Ledger } from './ledger';
import { predict } from './prediction';
import type { Random } from './random';
import { preview, type Stats, type Violations } from './report';

export interface FuzzContext {
  syncUrl: string;
  maxMessageBytes: number;
  /** Good token → its namespace. */
  tokens: ReadonlyMap<string, string>;
  ledger: Ledger;
  stats: Stats;
  violations: Violations;
  /** The server's AUTH_TIMEOUT_MS. */
  authTimeoutMs: number;
  /** Takes one frame from the run's budget; false once the run stops sending. */
  takeFrame(): boolean;
}

/** Frames in flight per connection: enough to overlap, few enough to keep answers prompt. */
const WINDOW = 12;
/** A frame unanswered for this long is a hang. Generous: the machine is shared. */
const ANSWER_TIMEOUT_MS = 20_000;
/** Close codes that say why: going away, invalid payload, policy violation, too big, try later. */
const CLEAR_CLOSE_CODES = new Set([1001, 1007, 1008, 1009, 1013]);
const AUTH_TIMEOUT_MESSAGE = /^authentication timeout/;
/** How often a connection without a token falls silent after a few frames, to meet the auth timeout. */
const LINGER_CHANCE = 0.2;

type Request = MessageOf<ClientMessage, 'request_events' | 'request_all_events'>;
type Push = MessageOf<ClientMessage, 'push_event' | 'push_events_batch' | 'push_batch'>;
type Immediate = 'pong' | 'invalid_message' | 'too_large';
/** A reply settles the request (`done`), is one of several (`more`), or says what was wrong. */
type Verdict = 'done' | 'more' | { wrong: string };

interface Sent {
  frame: FuzzFrame;
  at: number;
}
interface AwaitingImmediate extends Sent {
  expect: Immediate;
}
interface AwaitingProcessing extends Sent {
  message: ClientMessage;
  /** A request whose last page came: only its `sync_complete` is left. */
  lastPageSeen: boolean;
}

/** Runs one connection until the budget is spent, reconnecting after every close. */
export async function runFuzzConnection(index: number, outsider: boolean, random: Random, context: FuzzContext): Promise<void> {
  const generator = new FrameGenerator(random, {
    goodTokens: outsider ? [] : [...context.tokens.keys()],
    maxMessageBytes: context.maxMessageBytes,
    eventIdPrefix: `${outsider ? 'u' : 'a'}${index}-`,
  });
  const label = `${outsider ? 'unauthenticated' : 'authenticated'} connection ${index}`;
  for (let opened = 0; ; opened++) {
    if (!context.takeFrame()) return;
    if (opened > 0) context.stats.reconnects++;
    const session = await connect(context.syncUrl, (socket) => new Session(socket, label, outsider, context)).catch((error: unknown) => {
      context.violations.add(`${label} could not connect: ${(error as Error).message}`);
      return undefined;
    });
    if (!session) return;
    // The frame taken above: a login for a connection that has a token, else a generated one.
    session.send(outsider ? generator.next() : generator.login());
    const lingerAfter = outsider && random.chance(LINGER_CHANCE) ? random.int(0, 20) : undefined;
    if (!(await session.run(generator, lingerAfter))) return;
  }
}

/**
 * Opens a socket and wraps it in `open` synchronously on 'open': frames that came with the
 * upgrade response are emitted right after it, and would be lost to a listener added later.
 */
function connect<T>(url: string, open: (socket: WebSocket) => T): Promise<T> {
  const socket = new WebSocket(url, { maxPayload: MAX_SERVER_FRAME_BYTES });
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(open(socket)));
    socket.once('error', reject);
    socket.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
  });
}

/** One socket's life: its frames in flight, and what the server believes about it. */
class Session {
  private readonly immediate: AwaitingImmediate[] = [];
  private readonly processing: AwaitingProcessing[] = [];
  private authenticated = false;
  /** The last auth judged named EVENTS_BATCH_FEATURE (the server reads it from every auth). */
  private takesBatches = false;
  private namespace: string | undefined;
  /** The close a frame must cause (1007, 1009), or one the server announced (auth timeout). */
  private expectedClose?: number;
  /** From when a close is due: a close-causing frame was sent, or the connection fell silent. */
  private closeExpectedSince?: number;
  private closedByClient = false;
  /** Out of step with the server after a violation: closed without judging what is in flight. */
  private abandoned = false;
  private closed = false;
  private readonly closedPromise: Promise<void>;
  private wake: () => void = () => {};

  constructor(
    private readonly socket: WebSocket,
    private readonly label: string,
    private readonly outsider: boolean,
    private readonly context: FuzzContext,
  ) {
    socket.on('message', (data, isBinary) => this.receive(data, isBinary));
    socket.on('error', () => {}); // a close follows; its code is what is judged
    this.closedPromise = new Promise((resolve) =>
      socket.once('close', (code, reason) => {
        this.closedWith(code, String(reason));
        resolve();
      }),
    );
  }

  /**
   * Sends frames until the budget is spent (false) or the socket closes (true: open another).
   * With `lingerAfter`, falls silent after that many frames: the server must close it on time.
   */
  async run(generator: FrameGenerator, lingerAfter?: number): Promise<boolean> {
    const watchdog = setInterval(() => this.checkForHang(), 1000);
    try {
      for (let sent = 0; ; sent++) {
        await this.until(() => this.stopped || this.inFlight() < WINDOW);
        if (this.stopped) break;
        if (sent === lingerAfter) {
          this.closeExpectedSince = Date.now() + this.context.authTimeoutMs;
          await this.until(() => this.stopped);
          break;
        }
        if (!this.context.takeFrame()) {
          await this.until(() => this.stopped || this.inFlight() === 0);
          if (!this.stopped) {
            this.closedByClient = true;
            this.socket.close(1000, 'done');
          }
          await this.closedPromise;
          return false;
        }
        this.send(generator.next());
      }
      await this.closedPromise;
      return true;
    } finally {
      clearInterval(watchdog);
    }
  }

  send(frame: FuzzFrame): void {
    const { stats, ledger } = this.context;
    stats.framesSent++;
    stats.framesByKind.add(frame.kind);
    const prediction = predict(frame, this.context.maxMessageBytes);
    const sent = { frame, at: Date.now() };
    if (prediction.kind === 'close') this.expectedClose = prediction.code;
    else if (prediction.kind === 'pong') this.immediate.push({ ...sent, expect: 'pong' });
    else if (prediction.kind === 'error') {
      this.immediate.push({ ...sent, expect: prediction.code });
      if (prediction.code === 'too_large') this.expectedClose = 1009;
    } else if (prediction.kind === 'queued') {
      const push = pushOf(prediction.message);
      if (push && this.outsider) ledger.pushedByOutsider(eventsOf(push));
      this.processing.push({ ...sent, message: prediction.message, lastPageSeen: false });
      this.settleSilent();
    }
    this.socket.send(frame.bytes, { binary: frame.binary });
  }

  /** Nothing more to send on this socket: it closed, is about to, or fell out of step. */
  private get stopped(): boolean {
    return this.closed || this.abandoned || this.expectedClose !== undefined;
  }

  private inFlight(): number {
    return this.immediate.length + this.processing.length;
  }

  /** Resolves once `condition` holds; checked again whenever something arrives or closes. */
  private until(condition: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (!condition()) return;
        this.wake = () => {};
        resolve();
      };
      this.wake = check;
      check();
    });
  }

  private receive(data: RawData, isBinary: boolean): void {
    if (this.abandoned) return;
    const text = String(data);
    if (isBinary) return this.wrong(`server sent a binary frame: ${preview(text)}`);
    const decoded = decodeFrame(text, ServerMessageSchema, MAX_SERVER_FRAME_BYTES);
    if (!decoded.ok) return this.wrong(`server sent a frame no client can decode (${decoded.error}): ${preview(text)}`);
    const message = decoded.message;
    const { stats } = this.context;
    stats.repliesByType.add(message.type);
    if (message.type === 'error') stats.errorsByCode.add(message.code ?? '(none)');

    if (message.type === 'ping') return;
    if (message.type === 'pong') this.answeredOnArrival('pong', text);
    else if (message.type === 'error' && (message.code === 'invalid_message' || message.code === 'too_large')) this.answeredOnArrival(message.code, text);
    else if (message.type === 'error' && message.code === 'unauthenticated' && AUTH_TIMEOUT_MESSAGE.test(message.message)) this.expectedClose ??= 1008;
    else if (message.type === 'events' && message.hasMore === undefined) this.broadcastReceived(message.events);
    else if (message.type === 'events_batch') this.batchReceived(message.repositories.flatMap((part) => part.events));
    else this.answeredAfterProcessing(message, text);
    this.wake();
  }

  private answeredOnArrival(reply: Immediate, text: string): void {
    const head = this.immediate.shift();
    if (!head) return this.wrong(`${reply} arrived with no frame awaiting one: ${preview(text)}`);
    if (head.expect !== reply) this.wrong(`${describeFrame(head.frame)} should be answered ${head.expect}, got ${preview(text)}`);
  }

  private answeredAfterProcessing(message: ServerMessage, text: string): void {
    this.settleSilent();
    const head = this.processing[0];
    if (!head) return this.wrong(`a reply with no request awaiting one: ${preview(text)}`);
    const verdict = this.judge(head, message);
    if (verdict === 'more') return;
    if (verdict !== 'done') return this.wrong(`${describeFrame(head.frame)}: ${verdict.wrong}; got ${preview(text)}`);
    this.processing.shift();
    this.settleSilent();
  }

  /** `events_received` from an authenticated connection has no answer: done when it is next. */
  private settleSilent(): void {
    while (this.authenticated && this.processing[0]?.message.type === 'events_received') this.processing.shift();
  }

  private judge(head: AwaitingProcessing, reply: ServerMessage): Verdict {
    const message = head.message;
    if (message.type === 'auth') return this.judgeAuth(message, reply);
    if (!this.authenticated) {
      if (reply.type !== 'error' || reply.code !== 'unauthenticated') return { wrong: 'expected an unauthenticated error' };
      const push = pushOf(message);
      if (push) this.context.ledger.refusedUnauthenticated(eventsOf(push));
      return 'done';
    }
    const push = pushOf(message);
    if (push) return this.judgePush(push, reply);
    if (message.type === 'request_events' || message.type === 'request_all_events') return judgeRequest(head, message, reply);
    return { wrong: `no reply expected to ${message.type}` };
  }

  private judgeAuth(message: MessageOf<ClientMessage, 'auth'>, reply: ServerMessage): Verdict {
    const token = tokenOf(message);
    const namespace = token === undefined ? undefined : this.context.tokens.get(token);
    this.takesBatches = message.features?.includes(EVENTS_BATCH_FEATURE) ?? false;
    if (reply.type === 'auth_success') {
      if (namespace === undefined) return { wrong: 'auth_success for a token that is not valid' };
      if (reply.namespace !== namespace) return { wrong: `auth_success in namespace ${reply.namespace}, expected ${namespace}` };
      this.authenticated = true;
      this.namespace = namespace;
      return 'done';
    }
    if (reply.type === 'error' && reply.code === 'auth_failed') {
      if (namespace !== undefined) return { wrong: 'a valid token was refused' };
      this.authenticated = false;
      this.namespace = undefined;
      return 'done';
    }
    return { wrong: namespace === undefined ? 'expected auth_failed' : 'expected auth_success' };
  }

  /** A push refused whole because one of its ids is stored under another repository: plausible
   *  only when that id was pushed before, and the refusal names the whole push. */
  private judgeConflict(eventIds: readonly string[], reply: MessageOf<ServerMessage, 'error'>): Verdict {
    if (!isDeepStrictEqual(reply.eventIds, eventIds)) return { wrong: 'an event_id_conflict that does not name the whole push' };
    const named = /eventId (\S+) is already stored/.exec(reply.message)?.[1];
    if (named === undefined || !eventIds.includes(named) || !this.context.ledger.wasPushed(named)) {
      return { wrong: 'an event_id_conflict for an eventId never pushed before' };
    }
    return 'done';
  }

  private judgePush(push: Push, reply: ServerMessage): Verdict {
    const events = eventsOf(push);
    const eventIds = events.map((e) => e.eventId);
    if (reply.type === 'error' && reply.code === 'event_id_conflict') return this.judgeConflict(eventIds, reply);
    if (reply.type !== 'ack') return { wrong: 'expected an ack' };
    if (!isDeepStrictEqual(reply.eventIds, eventIds)) return { wrong: `ack names ${reply.eventIds.length} events, the push had ${eventIds.length}` };
    const repositories = Object.fromEntries(partsOf(push).map((part) => [part.repository, part.events.map((e) => e.eventId)]));
    if (!isDeepStrictEqual({ ...reply.repositories }, repositories)) return { wrong: `ack's repositories differ from ${JSON.stringify(repositories)}` };
    this.context.ledger.ackedIn(this.namespace!, events);
    this.context.stats.eventsAcked += events.length;
    return 'done';
  }

  private broadcastReceived(events: readonly SyncEvent[]): void {
    this.context.stats.broadcastsReceived++;
    this.settleSilent();
    const next = this.processing[0]?.message;
    // While a good token is being processed the connection may already be subscribed.
    const joining = next?.type === 'auth' && this.context.tokens.has(tokenOf(next) ?? '');
    if (!this.authenticated && !joining) return this.wrong(`a broadcast reached a connection that is not authenticated`);
    if (this.authenticated && !joining) this.context.ledger.broadcastIn(this.namespace!, events);
  }

  /** An `events_batch` goes only to a connection whose last auth named the feature (while an
   *  auth is in flight, either may count). */
  private batchReceived(events: readonly SyncEvent[]): void {
    if (events.length === 0) return this.wrong('an events_batch with no events');
    const authInFlight = this.processing.some((sent) => sent.message.type === 'auth');
    if (!authInFlight && !this.takesBatches) return this.wrong('an events_batch reached a connection whose auth did not name the feature');
    this.broadcastReceived(events);
  }

  private checkForHang(): void {
    if (this.closed || this.abandoned) return;
    if (this.expectedClose !== undefined || this.closeExpectedSince !== undefined) {
      this.closeExpectedSince ??= Date.now();
      if (Date.now() - this.closeExpectedSince > ANSWER_TIMEOUT_MS) this.wrong(`expected a close (${this.expectedClose ?? 'auth timeout'}); the socket stayed open`);
      return;
    }
    const oldest = [this.immediate[0], this.processing[0]].filter((s) => s !== undefined).sort((a, b) => a.at - b.at)[0];
    if (oldest && Date.now() - oldest.at > ANSWER_TIMEOUT_MS) this.wrong(`no answer within ${ANSWER_TIMEOUT_MS / 1000} s to ${describeFrame(oldest.frame)}`);
  }

  private wrong(description: string): void {
    if (this.abandoned) return;
    this.context.violations.add(`${this.label}: ${description}`);
    this.abandoned = true;
    this.socket.terminate();
    this.wake();
  }

  private closedWith(code: number, reason: string): void {
    this.closed = true;
    this.context.stats.closesByCode.add(String(code));
    if (!this.closedByClient && !this.abandoned) {
      const expected = this.expectedClose;
      if (!CLEAR_CLOSE_CODES.has(code)) this.context.violations.add(`${this.label}: closed with ${code} "${reason}", a code that does not say why`);
      else if (expected === undefined) this.context.violations.add(`${this.label}: closed with ${code} "${reason}" without a frame or an error that calls for it`);
      else if (code !== expected && code !== 1008) this.context.violations.add(`${this.label}: closed with ${code} "${reason}", expected ${expected}`);
    }
    // Pushes the server had not answered may or may not have been stored; either is correct.
    for (const { message } of this.processing) {
      const push = pushOf(message);
      if (push && !this.outsider) this.context.ledger.mayBeStored(eventsOf(push));
    }
    this.immediate.length = 0;
    this.processing.length = 0;
    this.wake();
  }
}

/** A request's pages: none larger than asked (or than the default page), in its repository. */
function judgeRequest(head: AwaitingProcessing, request: Request, reply: ServerMessage): Verdict {
  const single = request.type === 'request_events';
  if (reply.type === 'events') {
    if (single && head.lastPageSeen) return { wrong: 'a page after the last one' };
    if (request.repository !== undefined && reply.repository !== request.repository) return { wrong: `a page of ${reply.repository}` };
    const cap = single && request.limit !== undefined ? request.limit : DEFAULT_PAGE_EVENTS;
    if (reply.events.length > cap) return { wrong: `a page of ${reply.events.length} events, over ${cap}` };
    if (single) {
      const after = request.afterSequence ?? 0;
      if (reply.events.some((e) => (e.serverSequence ?? 0) <= after)) return { wrong: `an event at or before afterSequence ${after}` };
      if (request.since && reply.events.some((e) => e.createdAt <= request.since!)) return { wrong: `an event not after since ${request.since}` };
      if (request.limit !== undefined && reply.hasMore) return 'done';
      if (!reply.hasMore) head.lastPageSeen = true;
    }
    return 'more';
  }
  if (reply.type === 'sync_complete') {
    if (single) return reply.repository === request.repository && head.lastPageSeen ? 'done' : { wrong: 'sync_complete out of place' };
    if (reply.repository === undefined) return 'done';
    return request.repository === undefined || reply.repository === request.repository ? 'more' : { wrong: `sync_complete for ${reply.repository}` };
  }
  return { wrong: 'expected events or sync_complete' };
}

function pushOf(message: ClientMessage): Push | undefined {
  return message.type === 'push_event' || message.type === 'push_events_batch' || message.type === 'push_batch' ? message : undefined;
}

/** A push's events by repository, as the server stores and acks them. */
function partsOf(push: Push): { repository: string; events: SyncEvent[] }[] {
  if (push.type === 'push_batch') return push.repositories;
  return [{ repository: push.repository, events: push.type === 'push_event' ? [push.event] : push.events }];
}

function eventsOf(push: Push): SyncEvent[] {
  return partsOf(push).flatMap((part) => part.events);
}

function describeFrame(frame: FuzzFrame): string {
  return `${frame.kind} frame ${preview(frame.bytes, 120)}`;
}
