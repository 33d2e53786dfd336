/**
 * Fan-out between server instances through PostgreSQL LISTEN/NOTIFY. After a commit an instance
 * announces only (namespace, first and max sequence), never the events: the others re-read the
 * log from their own last-broadcast sequence, so a lost notification delays delivery but loses
 * nothing. Nor the events' origins: an origin names a connection of the instance that committed,
 * never a subscriber of another, so it stays local (LoggedEvent.origin).
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import * as v from 'valibot';
import type { Logger } from '../log';
import type { BatchRange } from './event-store';
import { connectionConfig } from './postgres-pool';

const CHANNEL = 'tabsync_appended';
const Sequence = v.pipe(v.number(), v.integer(), v.minValue(0));
const Batches = v.array(v.tuple([Sequence, Sequence]));
/**
 * [sending instance, namespace, max sequence, first sequence, batches]; an older instance sends
 * no batches (and an older one still no first). An older receiver reads the first four (v.tuple
 * leaves out what follows).
 */
const PayloadSchema = v.union([
  v.tuple([v.string(), v.string(), Sequence, Sequence, Batches]),
  v.tuple([v.string(), v.string(), Sequence, Sequence]),
  v.tuple([v.string(), v.string(), Sequence]),
]);
/** Most batch ranges one notification carries (a NOTIFY payload is at most 8000 bytes); the
 *  others' events reach the other instances all the same, by repository, not as one frame. */
const MAX_ANNOUNCED_BATCHES = 100;

const RECONNECT_FIRST_DELAY_MS = 100;
const RECONNECT_MAX_DELAY_MS = 5_000;

export interface FanoutHandlers {
  /** Another instance committed events to `namespace`, from `firstSequence` (when it says) up to
   *  `maxSequence`, with the batches among them (when it says). */
  appended(namespace: string, maxSequence: number, firstSequence: number | undefined, batches: BatchRange[] | undefined): void;
  /** The LISTEN connection is back after a drop: notifications sent meanwhile were missed. */
  reconnected(): void;
}

interface Range {
  first: number;
  max: number;
  batches: BatchRange[];
}

export class Fanout {
  /** Tells this instance's own notifications apart, which it has already handled locally. */
  private readonly instance = randomUUID();
  private client: pg.Client | undefined;
  /** The range of sequences per namespace still to announce; coalesced, at most one NOTIFY in flight. */
  private readonly unsent = new Map<string, Range>();
  private sending = false;
  private failedAttempts = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly log: Logger,
    private readonly handlers: FanoutHandlers,
  ) {}

  /** Opens the LISTEN connection; rejects when the database cannot be reached. */
  async start(): Promise<void> {
    this.client = await this.connect();
  }

  announce(namespace: string, firstSequence: number, maxSequence: number, batches: readonly BatchRange[] = []): void {
    this.keep(namespace, { first: firstSequence, max: maxSequence, batches: [...batches] });
    void this.send();
  }

  private keep(namespace: string, range: Range): void {
    const unsent = this.unsent.get(namespace);
    if (!unsent) return void this.unsent.set(namespace, range);
    const batches = [...unsent.batches, ...range.batches].slice(0, MAX_ANNOUNCED_BATCHES);
    this.unsent.set(namespace, { first: Math.min(unsent.first, range.first), max: Math.max(unsent.max, range.max), batches });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }

  private async send(): Promise<void> {
    const client = this.client;
    if (this.sending || !client || this.unsent.size === 0) return;
    this.sending = true;
    const batch = new Map(this.unsent);
    this.unsent.clear();
    const payloads = [...batch].map(([namespace, { first, max, batches }]) =>
      JSON.stringify(batches.length > 0 ? [this.instance, namespace, max, first, batches.slice(0, MAX_ANNOUNCED_BATCHES)] : [this.instance, namespace, max, first]),
    );
    try {
      await client.query(`SELECT pg_notify('${CHANNEL}', payload) FROM unnest($1::text[]) AS payload`, [payloads]);
    } catch (error) {
      // The connection dropped: announce these once it is back. (Any other failure would fail
      // again: drop the batch; the next append to the namespace announces it anyway.)
      if (this.client !== client) {
        for (const [namespace, range] of batch) this.keep(namespace, range);
      } else {
        this.log.warn('could not notify the other instances of a commit', { namespaces: batch.size, error });
      }
    } finally {
      this.sending = false;
    }
    void this.send();
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client(connectionConfig(this.url, 'tabsync-listen'));
    client.on('error', (error) => {
      if (client === this.client) this.log.warn('LISTEN connection failed; reconnecting', { error });
      this.lose(client);
    });
    client.on('end', () => this.lose(client));
    client.on('notification', (notification) => this.receive(notification));
    try {
      await client.connect();
      // A notification is a hint, not data: it need not wait for a disk flush.
      await client.query('SET synchronous_commit TO off');
      await client.query(`LISTEN ${CHANNEL}`);
      return client;
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
  }

  private receive(notification: pg.Notification): void {
    if (notification.channel !== CHANNEL || notification.payload === undefined) return;
    let raw: unknown;
    try {
      raw = JSON.parse(notification.payload);
    } catch {
      return;
    }
    const parsed = v.safeParse(PayloadSchema, raw);
    if (!parsed.success) return;
    const [instance, namespace, maxSequence, firstSequence, batches] = parsed.output;
    if (instance !== this.instance) this.handlers.appended(namespace, maxSequence, firstSequence, batches);
  }

  private lose(client: pg.Client): void {
    if (client !== this.client) return;
    this.client = undefined;
    client.end().catch(() => {});
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const ceiling = Math.min(RECONNECT_MAX_DELAY_MS, RECONNECT_FIRST_DELAY_MS * 2 ** this.failedAttempts);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.failedAttempts++;
    this.reconnectTimer = setTimeout(() => void this.reconnect(), delay);
  }

  private async reconnect(): Promise<void> {
    let client: pg.Client;
    try {
      client = await this.connect();
    } catch {
      this.scheduleReconnect();
      return;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    if (this.failedAttempts > 1) this.log.info('LISTEN connection back', { attempts: this.failedAttempts });
    this.failedAttempts = 0;
    this.handlers.reconnected();
    void this.send();
  }
}
