/**
 * What a connection has handed to its socket and the peer has not taken yet. Every frame the
 * server sends goes through here, so that a peer that does not read costs a bounded number of
 * bytes: past the per-connection bound the connection is closed, and the bytes of all
 * connections together are bounded too (SendPool). Bytes count from `send` until ws calls back
 * (the kernel took them), which is what ws's own `bufferedAmount` measures.
 */
import type { Writable } from 'node:stream';
import WebSocket from 'ws';
import { sharedTextFrame, textFrameOf } from './wire-frame';

/** Below this many unsent bytes a connection counts as drained: a paced sender goes on. */
export const DRAINED_BYTES = 256 * 1024;

/** The unsent bytes of every connection of the process, against one bound. */
export class SendPool {
  private total = 0;
  private waiters: (() => void)[] = [];

  constructor(readonly limit: number) {}

  get bytes(): number {
    return this.total;
  }

  /** True while the pool is below its bound: there is room for more. */
  hasRoom(): boolean {
    return this.total < this.limit;
  }

  /** Resolves once there is room (at once when there is). */
  whenRoom(): Promise<void> {
    if (this.hasRoom()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  take(bytes: number): void {
    this.total += bytes;
  }

  release(bytes: number): void {
    this.total -= bytes;
    if (!this.hasRoom() || this.waiters.length === 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

export interface OutboundEvents {
  /** A frame would pass a bound: the connection must close (it catches up after reconnecting). */
  overflow(reason: string): void;
  /** The unsent bytes fell to DRAINED_BYTES or below after being above it. */
  drained(): void;
}

export class Outbound {
  private pending = 0;
  private gone = false;
  private drainWaiters: (() => void)[] = [];
  /** The TCP (or TLS) socket under ws, written to directly (see rawSocketOf), or none: ws frames. */
  private readonly raw: Writable | undefined;

  constructor(
    private readonly socket: WebSocket,
    private readonly pool: SendPool,
    /** Most unsent bytes one connection may hold; a single larger frame still goes when none are. */
    private readonly maxBytes: number,
    private readonly events: OutboundEvents,
  ) {
    this.raw = rawSocketOf(socket);
  }

  /** Unsent bytes of this connection. */
  get bytes(): number {
    return this.pending;
  }

  get open(): boolean {
    return !this.gone && this.socket.readyState === WebSocket.OPEN;
  }

  /** Past DRAINED_BYTES: replies that can be dropped are, and the socket stops reading. */
  get backedUp(): boolean {
    return this.pending > DRAINED_BYTES;
  }

  /**
   * Sends a text frame; false when the socket is gone or the frame would pass a bound (then
   * closed). A Buffer is sent as it is: the fan-out hands the same one to every subscriber
   * (ws frames it without copying, since a server does not mask).
   */
  send(text: string | Buffer): boolean {
    if (!this.open) return false;
    const bytes = typeof text === 'string' ? Buffer.byteLength(text) : text.byteLength;
    if (this.pending > 0 && this.pending + bytes > this.maxBytes) {
      this.events.overflow(`more than ${this.maxBytes} bytes unread`);
      return false;
    }
    if (this.pending > 0 && !this.pool.hasRoom()) {
      this.events.overflow('the server is short of send buffer');
      return false;
    }
    this.pending += bytes;
    this.pool.take(bytes);
    const flushed = () => this.flushed(bytes);
    if (!this.raw) this.socket.send(text, { binary: false }, flushed);
    // The same bytes ws would write, framed once per message (the fan-out's, for all its subscribers).
    else this.raw.write(typeof text === 'string' ? textFrameOf(text, bytes) : sharedTextFrame(text), flushed);
    return true;
  }

  /** Resolves once this connection is drained and the pool has room; false once the socket is gone. */
  async whenReady(): Promise<boolean> {
    if (this.pending > DRAINED_BYTES) await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    if (this.open) await this.pool.whenRoom();
    return this.open;
  }

  /** The socket closed: what it still held is no longer anyone's. */
  release(): void {
    if (this.gone) return;
    this.gone = true;
    this.pool.release(this.pending);
    this.pending = 0;
    this.wakeDrainWaiters();
  }

  private flushed(bytes: number): void {
    if (this.gone) return;
    const wasBackedUp = this.backedUp;
    this.pending -= bytes;
    this.pool.release(bytes);
    if (wasBackedUp && !this.backedUp) {
      this.wakeDrainWaiters();
      this.events.drained();
    }
  }

  private wakeDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const wake of waiters) wake();
  }
}

/**
 * The socket under `ws`, when writing a text frame to it directly is what ws.send would do: no
 * extension negotiated (no permessage-deflate, whose sender queues and compresses), so ws's
 * sender writes each message at once, in order with these writes, and holds nothing back.
 * `_socket` is ws's own field (every ws 8 release has it); without it, ws frames as before.
 */
function rawSocketOf(socket: WebSocket): Writable | undefined {
  if (socket.extensions !== '') return undefined;
  const raw = (socket as unknown as { _socket?: unknown })._socket;
  return raw && typeof (raw as Writable).write === 'function' ? (raw as Writable) : undefined;
}
