/**
 * When a connection reads from its peer, and which refused frames it answers. A peer is not read
 * while it does not read (its replies are backed up), while it has more messages queued than the
 * server works through, or for a moment after it passed its rate limit: what it sends meanwhile
 * waits in its own TCP buffers, at no cost to the server. Refusals are answered at a bounded rate;
 * the ones past it are counted and told in one message once the peer is answered again.
 */
import WebSocket from 'ws';
import type { Outbound } from './outbound';
import { TokenBucket } from './rate-limit';

/** Above this many queued messages the socket stops reading until the queue is half as long. */
export const QUEUE_HIGH_WATER = 64;
/** Replies to refused frames per second (and at once): enough for any client that is not flooding. */
const REFUSAL_REPLIES_PER_SECOND = 100;
const REFUSAL_REPLY_BURST = 200;
/** The pause after the rate limit refused a frame, within these bounds (one token's refill time). */
const MIN_REST_MS = 10;
const MAX_REST_MS = 1000;

export class ReadGate {
  private resting: NodeJS.Timeout | undefined;
  private readonly replies = new TokenBucket(REFUSAL_REPLIES_PER_SECOND, REFUSAL_REPLY_BURST);
  private dropped = 0;
  private readonly restMs: number;

  constructor(
    private readonly socket: WebSocket,
    private readonly outbound: Outbound,
    /** Messages per second the connection's rate limit allows. */
    perSecond: number,
    /** How many messages wait to be processed. */
    private readonly queued: () => number,
  ) {
    this.restMs = Math.min(MAX_REST_MS, Math.max(MIN_REST_MS, Math.ceil(1000 / perSecond)));
  }

  /** The rate limit refused a frame: stop reading until a token has been refilled. */
  rest(): void {
    if (this.resting) return;
    this.resting = setTimeout(() => {
      this.resting = undefined;
      this.update();
    }, this.restMs);
    this.update();
  }

  /** Whether to answer a refused frame now; when not, it is counted. */
  mayReply(): boolean {
    if (!this.outbound.backedUp && this.replies.take()) return true;
    this.dropped++;
    return false;
  }

  /** How many refusals went unanswered since the last call (to be told once, when answering again). */
  takeDropped(): number {
    const dropped = this.dropped;
    this.dropped = 0;
    return dropped;
  }

  /** Pauses or resumes reading for what holds now. */
  update(): void {
    const socket = this.socket;
    // A closing socket must go on reading: the peer's close frame ends it.
    if (socket.readyState !== WebSocket.OPEN) return;
    if (this.resting || this.outbound.backedUp || this.queued() > QUEUE_HIGH_WATER) {
      if (!socket.isPaused) socket.pause();
    } else if (socket.isPaused && this.queued() <= QUEUE_HIGH_WATER / 2) {
      socket.resume();
    }
  }

  /** The connection is closing: read on (its close frame), and no timer outlives it. */
  stop(): void {
    clearTimeout(this.resting);
    this.resting = undefined;
    if (this.socket.isPaused) this.socket.resume();
  }
}
