/**
 * The frame generator: valid client messages built from the shapes of protocol/messages.ts, the
 * same messages mutated field by field, and frames no protocol would produce (garbage, binary,
 * invalid UTF-8, oversize, deep nesting, prototype keys, enormous arrays).
 */
import { EVENTS_BATCH_FEATURE, MAX_BATCH_EVENTS, MAX_BATCH_REPOSITORIES, MAX_DATA_DEPTH, MAX_JSON_DEPTH, MAX_PAGE_EVENTS } from '../../protocol';
import { EDGE_NUMBERS, HOSTILE_STRINGS, HOSTILE_VALID_REPOSITORIES, INVALID_UTF8, PROTOTYPE_KEYS, WRONG_TYPED_VALUES } from './hostile';
import type { Random } from './random';

export interface FuzzFrame {
  /** What the frame exercises, for the summary: `valid:push_event`, `mutated`, `deep-nesting`, … */
  kind: string;
  /** Exactly what goes on the wire. */
  bytes: Buffer;
  binary: boolean;
}

export interface GeneratorOptions {
  /** Tokens that authenticate; empty for a connection that must never get in. */
  goodTokens: readonly string[];
  maxMessageBytes: number;
  /** Starts every eventId this generator makes, so the audit can tell whose events are whose. */
  eventIdPrefix: string;
}

/** JSON text spliced in as is: numbers JSON.stringify cannot write, nesting too deep to build. */
class RawJson {
  constructor(readonly text: string) {}
}

type Message = Record<string, unknown>;

const REPOSITORIES = ['todos', 'notes', 'r0', 'r1', 'r2', 'r3'];
const DATA_IDS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
const WORDS = ['id', 'title', 'done', 'tags', 'n', 'x', 'nested', 'list', 'é', '空', 'a b', '$set', 'sql', ''];
const URL_SAFE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
const TIMESTAMP_EDGES = ['1970-01-01T00:00:00.000Z', '2000-02-29T23:59:59.999Z', '9999-12-31T23:59:59.999Z', '0000-01-01T00:00:00.000Z'];
const BAD_TIMESTAMPS = ['2024-01-01', '2024-01-01T00:00:00Z', '2024-13-01T00:00:00.000Z', '2024-02-30T00:00:00.000Z', '2024-01-01T00:00:00.000+01:00', 'yesterday', ''];
/** How many recent valid events a generator keeps to send again (duplicates are acked, stored once). */
const RECENT_EVENTS = 32;

export class FrameGenerator {
  private counter = 0;
  private readonly recent: Message[] = [];

  constructor(
    private readonly random: Random,
    private readonly options: GeneratorOptions,
  ) {}

  /** An auth frame with a good token, half of them taking batches as one frame: what a connection sends first when it (re)opens. */
  login(): FuzzFrame {
    const features = this.random.chance(0.5) ? { features: [EVENTS_BATCH_FEATURE] } : {};
    return this.text('login', { type: 'auth', token: this.random.pick(this.options.goodTokens), ...features });
  }

  next(): FuzzFrame {
    const r = this.random;
    return r.weighted<() => FuzzFrame>([
      [34, () => this.validFrame()],
      [26, () => this.text('mutated', this.mutate(this.validMessage(), r.int(1, 3)))],
      [8, () => this.hostileStringFrame()],
      [7, () => this.prototypeKeyFrame()],
      [6, () => this.deepFrame()],
      [4, () => this.enormousArrayFrame()],
      [3, () => this.text('number-edge', this.numberEdge(this.validMessage()))],
      [6, () => this.garbageFrame()],
      [3, () => this.binaryFrame()],
      [1, () => this.invalidUtf8Frame()],
      [1.5, () => this.oversizeFrame()],
    ])();
  }

  // ── valid messages ──

  private validFrame(): FuzzFrame {
    const message = this.validMessage();
    return this.text(`valid:${String(message['type'])}`, message);
  }

  private validMessage(): Message {
    const r = this.random;
    return r.weighted<() => Message>([
      [3, () => ({ type: 'ping' })],
      [2, () => ({ type: 'pong' })],
      [4, () => this.auth()],
      [22, () => ({ type: 'push_event', repository: this.repository(), event: this.event() })],
      [8, () => ({ type: 'push_events_batch', repository: this.repository(), events: this.events(r.int(1, 12)) })],
      [7, () => this.pushBatch()],
      [6, () => this.requestEvents()],
      [1, () => (r.chance(0.5) ? { type: 'request_all_events' } : { type: 'request_all_events', repository: this.repository() })],
      [3, () => ({ type: 'events_received', repository: this.repository(), count: r.int(0, 1000) })],
    ])();
  }

  /** Several repositories' events, each repository once (the duplicates `event` mixes in may
   *  still give an eventId twice, which the server refuses as the decoder does). */
  private pushBatch(): Message {
    const r = this.random;
    const repositories = [...new Set(Array.from({ length: r.int(1, 4) }, () => this.repository()))];
    return { type: 'push_batch', repositories: repositories.map((repository) => ({ repository, events: this.events(r.int(1, 6)) })) };
  }

  private auth(): Message {
    const r = this.random;
    const good = this.options.goodTokens.length > 0 && r.chance(0.75);
    const token = good ? r.pick(this.options.goodTokens) : this.badToken();
    return r.weighted<() => Message>([
      [5, () => ({ type: 'auth', token })],
      [2, () => ({ type: 'auth', token, features: r.pick([[EVENTS_BATCH_FEATURE], [EVENTS_BATCH_FEATURE, 'from-the-future'], [], ['x'.repeat(65)]]) })],
      [2, () => ({ type: 'auth', headers: { [r.pick(['Authorization', 'authorization', 'AUTHORIZATION'])]: `Bearer ${token}` } })],
      [1, () => ({ type: 'auth', headers: { 'X-Custom': r.pick(HOSTILE_STRINGS), Authorization: `Basic ${token}` } })],
      [1, () => ({ type: 'auth' })],
    ])();
  }

  private badToken(): string {
    const r = this.random;
    return r.weighted<() => string>([
      [3, () => this.urlSafe(r.int(1, 40))],
      [2, () => r.pick(HOSTILE_STRINGS)],
      [1, () => `eyJhbGciOiJIUzI1NiJ9.${this.urlSafe(30)}.${this.urlSafe(43)}`],
      [1, () => `eyJhbGciOiJub25lIn0.${Buffer.from('{"sub":"x","namespace":"fuzz-a"}').toString('base64url')}.`],
      [1, () => `${r.pick(this.options.goodTokens.length ? this.options.goodTokens : ['t'])}x`],
    ])();
  }

  private requestEvents(): Message {
    const r = this.random;
    const message: Message = { type: 'request_events', repository: this.repository() };
    if (r.chance(0.5)) message['afterSequence'] = r.weighted([[4, r.int(0, 500)], [1, r.int(0, 100_000)], [1, Number.MAX_SAFE_INTEGER]]);
    if (r.chance(0.2)) message['since'] = this.timestamp();
    if (r.chance(0.8)) message['limit'] = r.weighted([[5, r.int(1, 50)], [1, MAX_PAGE_EVENTS]]);
    return message;
  }

  private repository(): string {
    return this.random.chance(0.9) ? this.random.pick(REPOSITORIES) : this.random.pick(HOSTILE_VALID_REPOSITORIES);
  }

  private events(count: number): Message[] {
    return Array.from({ length: count }, () => this.event());
  }

  /** A valid event, or now and then one sent before (a deliberate duplicate). */
  private event(): Message {
    const r = this.random;
    if (this.recent.length > 0 && r.chance(0.08)) return structuredClone(r.pick(this.recent));
    const operation = r.pick([0, 1, 2]);
    const event: Message = {
      eventId: this.eventId(),
      dataId: r.weighted<() => string>([
        [8, () => r.pick(DATA_IDS)],
        [2, () => r.pick(HOSTILE_STRINGS)],
        [1, () => this.unicode(r.int(1, 256))],
      ])(),
      operation,
      createdAt: this.timestamp(),
    };
    if (operation !== 2 || r.chance(0.2)) event['data'] = this.record(r.weighted([[8, 2], [2, 4], [1, MAX_DATA_DEPTH]]));
    if (r.chance(0.05)) event['serverSequence'] = r.int(0, 1_000_000);
    this.recent.push(structuredClone(event));
    if (this.recent.length > RECENT_EVENTS) this.recent.shift();
    return event;
  }

  private eventId(): string {
    return `${this.options.eventIdPrefix}${(++this.counter).toString(36)}-${this.urlSafe(this.random.int(1, 12))}`;
  }

  private timestamp(): string {
    const r = this.random;
    if (r.chance(0.05)) return r.pick(TIMESTAMP_EDGES);
    if (r.chance(0.02)) return r.pick(BAD_TIMESTAMPS);
    return new Date(Date.UTC(2000, 0, 1) + r.int(0, 100 * 365 * 86_400) * 1000 + r.int(0, 999)).toISOString();
  }

  /** A data record up to `depth` levels deep, its keys and strings sometimes hostile. */
  private record(depth: number): Message {
    const r = this.random;
    const record: Message = {};
    const keys = depth > 2 ? 1 : r.int(0, 6);
    for (let i = 0; i < keys; i++) record[r.chance(0.2) ? r.pick(HOSTILE_STRINGS) : r.pick(WORDS)] = this.value(depth - 1);
    if (depth > 2) record['deeper'] = this.value(depth - 1);
    return record;
  }

  private value(depth: number): unknown {
    const r = this.random;
    if (depth <= 0) return this.scalar();
    return r.weighted<() => unknown>([
      [6, () => this.scalar()],
      [1, () => this.record(depth)],
      [1, () => Array.from({ length: depth > 2 ? 1 : r.int(0, 4) }, () => this.value(depth - 1))],
    ])();
  }

  private scalar(): unknown {
    const r = this.random;
    return r.weighted<() => unknown>([
      [3, () => this.unicode(r.int(0, 24))],
      [2, () => r.pick(HOSTILE_STRINGS)],
      [2, () => r.int(-1_000_000, 1_000_000)],
      [1, () => r.next() * 1e6],
      [1, () => r.pick([Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 1e308, -0, 5e-324])],
      [1, () => r.chance(0.5)],
      [1, () => null],
    ])();
  }

  // ── mutations of valid messages ──

  /** `count` random changes, each at a random place of the message tree. */
  private mutate(message: Message, count: number): Message {
    const r = this.random;
    for (let i = 0; i < count; i++) {
      const found = places(message);
      if (found.length === 0) {
        message[r.pick(WORDS)] = this.scalar();
        continue;
      }
      const [parent, key] = r.pick(found);
      const objectTarget = isObject(parent[key]) ? (parent[key] as Message) : undefined;
      r.weighted<() => void>([
        [4, () => (parent[key] = structuredClone(r.pick(WRONG_TYPED_VALUES)))],
        [3, () => delete parent[key]],
        [3, () => ((objectTarget ?? (isObject(parent) ? parent : message))[r.pick([...WORDS, ...HOSTILE_STRINGS])] = this.scalar())],
        [2, () => (message['type'] = r.pick(['PUSH_EVENT', 'push_event ', 'drop_tables', 'toString', '__proto__', 'constructor', 'auth\u0000', '']))],
        [3, () => (parent[key] = r.pick(HOSTILE_STRINGS))],
        [2, () => (parent[key] = new RawJson(r.pick(EDGE_NUMBERS)))],
        [1, () => (parent[key] = [parent[key]])],
      ])();
    }
    return message;
  }

  /** Every numeric field of a message gets an edge value: sequences, limits, counts, operations. */
  private numberEdge(message: Message): Message {
    const r = this.random;
    const numeric = places(message).filter(([parent, key]) => typeof parent[key] === 'number');
    if (numeric.length === 0) return { type: 'request_events', repository: 'todos', limit: new RawJson(r.pick(EDGE_NUMBERS)) };
    for (const [parent, key] of numeric) parent[key] = new RawJson(r.pick(EDGE_NUMBERS));
    return message;
  }

  // ── structure-aware hostile frames ──

  /** A valid push whose repository, eventId, dataId or data carries a hostile string. */
  private hostileStringFrame(): FuzzFrame {
    const r = this.random;
    const event: Message = { ...this.event(), eventId: this.eventId() };
    const message: Message = { type: 'push_event', repository: this.repository(), event };
    const field = r.pick(['repository', 'eventId', 'dataId', 'data-key', 'data-value']);
    const hostile = r.pick(HOSTILE_STRINGS);
    if (field === 'repository') message['repository'] = hostile;
    else if (field === 'eventId') event['eventId'] = hostile;
    else if (field === 'dataId') event['dataId'] = hostile;
    else event['data'] = { ...(isObject(event['data']) ? event['data'] : {}), [field === 'data-key' ? hostile : 'value']: hostile };
    return this.text(`hostile-string:${field}`, message);
  }

  /** `__proto__` / `constructor` / `prototype` keys at one or more levels, literal or escaped. */
  private prototypeKeyFrame(): FuzzFrame {
    const r = this.random;
    const message = this.validMessage();
    const objects = [message, ...places(message).map(([parent, key]) => parent[key]).filter(isObject)];
    for (let i = r.int(1, 3); i > 0; i--) {
      Object.defineProperty(r.pick(objects), r.pick(PROTOTYPE_KEYS), {
        value: r.pick<unknown>([{ polluted: true }, { toString: 'x' }, null, 1, 'x', []]),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    let text = serialize(message);
    if (r.chance(0.4)) text = text.replaceAll('"__proto__":', r.pick(['"\\u005f_proto__":', '"__proto\\u005f_":', '"\\u005F\\u005Fproto__":']));
    return { kind: 'prototype-keys', bytes: Buffer.from(text), binary: false };
  }

  /** Arrays and objects nested around the limits (data's, the frame's) and far beyond them. */
  private deepFrame(): FuzzFrame {
    const r = this.random;
    const depth = r.pick([MAX_DATA_DEPTH - 1, MAX_DATA_DEPTH, MAX_DATA_DEPTH + 1, MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 200, 20_000]);
    const nested = r.chance(0.5) ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"k":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const placement = r.pick(['data', 'frame', 'event', 'headers', 'unknown-field']);
    const deep = new RawJson(nested);
    const event = { ...this.event(), eventId: this.eventId(), operation: 1 };
    const message: Message | RawJson =
      placement === 'data' ? { type: 'push_event', repository: 'todos', event: { ...event, data: { nested: deep } } }
      : placement === 'event' ? { type: 'push_event', repository: 'todos', event: deep }
      : placement === 'headers' ? { type: 'auth', headers: { Authorization: deep } }
      : placement === 'unknown-field' ? { type: 'ping', extra: deep }
      : deep;
    return { kind: `deep-nesting:${placement}`, bytes: Buffer.from(serialize(message)), binary: false };
  }

  /** Arrays far longer than any limit: batches, data, headers, top-level. */
  private enormousArrayFrame(): FuzzFrame {
    const r = this.random;
    const room = Math.floor(this.options.maxMessageBytes / 3);
    const shape = r.pick(['batch-over-limit', 'batch-at-limit', 'zeros-as-events', 'data-array', 'top-level', 'headers', 'repositories-over-limit', 'parts-over-limit', 'zeros-as-parts']);
    const tiny = () => ({ eventId: this.eventId(), dataId: r.pick(DATA_IDS), operation: 2, createdAt: this.timestamp() });
    const message =
      shape === 'batch-over-limit' ? { type: 'push_events_batch', repository: 'todos', events: Array.from({ length: MAX_BATCH_EVENTS + 1 }, tiny) }
      : shape === 'batch-at-limit' ? { type: 'push_events_batch', repository: 'notes', events: Array.from({ length: MAX_BATCH_EVENTS }, tiny) }
      : shape === 'zeros-as-events' ? { type: 'push_events_batch', repository: 'todos', events: new RawJson(`[${'0,'.repeat(room / 2)}0]`) }
      : shape === 'data-array' ? { type: 'push_event', repository: 'todos', event: { ...tiny(), operation: 1, data: { list: new RawJson(`[${'1,'.repeat(room / 2)}1]`) } } }
      : shape === 'top-level' ? new RawJson(`[${'{},'.repeat(room / 3)}{}]`)
      : shape === 'repositories-over-limit' ? { type: 'push_batch', repositories: Array.from({ length: MAX_BATCH_REPOSITORIES + 1 }, (_, i) => ({ repository: `r${i}`, events: [tiny()] })) }
      : shape === 'parts-over-limit' ? { type: 'push_batch', repositories: ['todos', 'notes'].map((repository) => ({ repository, events: Array.from({ length: MAX_BATCH_EVENTS / 2 + 1 }, tiny) })) }
      : shape === 'zeros-as-parts' ? { type: 'push_batch', repositories: new RawJson(`[${'0,'.repeat(room / 2)}0]`) }
      : { type: 'auth', headers: Object.fromEntries(Array.from({ length: room / 24 }, (_, i) => [`h${i}`, 'v'])) };
    return { kind: `enormous-array:${shape}`, bytes: Buffer.from(serialize(message)), binary: false };
  }

  private garbageFrame(): FuzzFrame {
    const r = this.random;
    const valid = serialize(this.validMessage());
    const text = r.weighted<() => string>([
      [3, () => this.unicode(r.int(0, 200))],
      [3, () => valid.slice(0, r.int(0, valid.length - 1))],
      [2, () => r.pick(['null', 'true', '0', '-1', '""', '[]', '{}', '"ping"', '{"type":null}', '{"type":{}}', '[{"type":"ping"}]'])],
      [1, () => '{"type":"ping","type":"push_event","repository":"todos"}'],
      [1, () => ` \n\t${valid}\r\n `],
      [1, () => `\ufeff${valid}`],
      [1, () => valid.replace('{', '{/*comment*/')],
      [1, () => valid.replace('}', ',}')],
      [1, () => `${valid}${valid}`],
      [1, () => '{"type":"auth","token":"\\ud800"}'],
      [1, () => '{"type":"push_event","repository":"todos","event":{"eventId":"\\u0000","dataId":"\\udfff","operation":1}}'],
      [1, () => ''],
    ])();
    return { kind: 'garbage', bytes: Buffer.from(text), binary: false };
  }

  private binaryFrame(): FuzzFrame {
    const r = this.random;
    const bytes = r.weighted<() => Buffer>([
      [3, () => Buffer.from(Array.from({ length: r.int(0, 512) }, () => r.int(0, 255)))],
      [2, () => Buffer.from(serialize(this.validMessage()))],
      [1, () => Buffer.alloc(this.options.maxMessageBytes * 2, 0x7b)],
    ])();
    return { kind: 'binary', bytes, binary: true };
  }

  /** A text frame whose bytes are not UTF-8: the WebSocket layer closes with 1007. */
  private invalidUtf8Frame(): FuzzFrame {
    const valid = Buffer.from(serialize({ type: 'push_event', repository: 'todos', event: { ...this.event(), dataId: 'PLACE' } }));
    const at = valid.indexOf('PLACE');
    const bytes = Buffer.concat([valid.subarray(0, at), this.random.pick(INVALID_UTF8), valid.subarray(at + 5)]);
    return { kind: 'invalid-utf8', bytes, binary: false };
  }

  /** Over the message cap (answered too_large, closed 1009), or far over it (cut by the socket, 1009). */
  private oversizeFrame(): FuzzFrame {
    const r = this.random;
    const { maxMessageBytes } = this.options;
    const far = r.chance(0.25);
    const size = far ? maxMessageBytes * 4 + r.int(1, 1000) : maxMessageBytes + r.int(1, maxMessageBytes);
    const event = { ...this.event(), eventId: this.eventId(), operation: 1, data: { blob: '' } };
    const shell = serialize({ type: 'push_event', repository: 'todos', event });
    const text = shell.replace('"blob":""', `"blob":"${'x'.repeat(Math.max(0, size - shell.length))}"`);
    return { kind: far ? 'oversize:far' : 'oversize', bytes: Buffer.from(text), binary: false };
  }

  // ── helpers ──

  private text(kind: string, message: Message): FuzzFrame {
    return { kind, bytes: Buffer.from(serialize(message)), binary: false };
  }

  private urlSafe(length: number): string {
    let text = '';
    for (let i = 0; i < length; i++) text += URL_SAFE[this.random.int(0, URL_SAFE.length - 1)];
    return text;
  }

  /** Random code points from several planes: ASCII, Latin, CJK, emoji, controls. */
  private unicode(length: number): string {
    const r = this.random;
    let text = '';
    while (text.length < length) {
      const codePoint = r.weighted([[6, r.int(0x20, 0x7e)], [1, r.int(0x00, 0x1f)], [2, r.int(0xa0, 0x2fff)], [1, r.int(0x4e00, 0x9fff)], [1, r.int(0x1f300, 0x1faff)]]);
      text += String.fromCodePoint(codePoint);
    }
    return text.slice(0, length).replace(/[\ud800-\udbff]$/, 'z');
  }
}

function isObject(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof RawJson);
}

/** Every (container, key) of a message tree, the root's own fields included. */
function places(message: Message): [Message, string][] {
  const found: [Message, string][] = [];
  const visit = (container: Message) => {
    for (const key of Object.keys(container)) {
      found.push([container, key]);
      const value = container[key];
      if (isObject(value) || Array.isArray(value)) visit(value as Message);
    }
  };
  visit(message);
  return found;
}

/** JSON.stringify, plus raw splices and own `__proto__` keys (which JSON.stringify also writes). */
function serialize(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (Array.isArray(value)) return `[${value.map((item) => serialize(item)).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value).map((key) => `${JSON.stringify(key)}:${serialize((value as Message)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
