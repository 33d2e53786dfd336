/**
 * Writes through the database's only writer. The runtime that leads (holds the connection) is
 * the one that commits; every other runtime of the profile on the database (a follower, another
 * deployment's worker waiting for the connection) forwards its tabs' writes to it over the
 * peers channel and answers its tab with the writer's answer. So no two runtimes ever commit to
 * one database at once, and the writer may know its rows (writer-lock.ts, known-versions.ts).
 *
 * A write gets its eventId before it leaves, so that sending it again is harmless: a writer
 * that never answers (its worker died; the browser then gives its locks to the next runtime,
 * which leads and says so in its status) gets nothing more, and the write goes, marked
 * `retried`, to the next writer — this runtime itself once it leads. The writer recognises a
 * write it committed before by its eventId (the record carries it, or the outbox holds it), as
 * for a tab's own retry. A writer that is closing refuses with `closed`: the write waits for the
 * next one. Until some writer is known, forwarded writes wait.
 */
import { nanoid } from 'nanoid';
import type { SyncErrorShape, TabErrorCode } from '../../protocol/tab-api';
import { isSyncError, storageFailure, syncError } from '../errors';
import type { PeerMessage } from './peers';

/** The tab calls that write the database. */
export type WriteCallName = Extract<PeerMessage, { type: 'write' }>['name'];

/** One tab call that writes, with its arguments as the tab passed them. */
export interface WriteCall {
  name: WriteCallName;
  args: unknown[];
}

/** Where each write call takes its eventId (a retry's `retried` flag follows it); a clear has none. */
const EVENT_ID_AT: Record<WriteCallName, number | undefined> = { upsert: 2, delete: 2, upsertMany: 2, deleteMany: 2, patch: 3, batch: 1, clearLocalData: undefined };

interface Forwarded {
  call: WriteCall;
  /** The writer it was last sent to, while it waits for that one's answer. */
  sentTo: string | undefined;
  resolve(): void;
  reject(error: unknown): void;
}

export class WriteForwarding {
  private readonly waiting = new Map<number, Forwarded>();
  private lastSeq = 0;
  /** Who commits: this runtime (`self`), another one by id, or nobody known yet. */
  private writer: string | undefined;
  private run: (call: WriteCall) => Promise<void> = () => Promise.reject(syncError('closed', 'the sync runtime is not ready to write'));

  constructor(
    private readonly self: string,
    private readonly post: (message: PeerMessage) => void,
  ) {}

  /** How this runtime commits a write itself (the tab calls' own). */
  runWith(run: (call: WriteCall) => Promise<void>): void {
    this.run = run;
  }

  /** A tab's write: committed here when this runtime is the writer, else by the writer. */
  write(call: WriteCall): Promise<void> {
    if (this.writer === this.self) return this.run(call);
    const fixed = withEventId(call);
    return new Promise((resolve, reject) => {
      const seq = ++this.lastSeq;
      this.waiting.set(seq, { call: fixed, sentTo: undefined, resolve, reject });
      this.send(seq);
    });
  }

  /** The writer is now `writer` (this runtime's own id once it leads): the writes still waiting
   *  for an answer go to it, marked retried. */
  writerIs(writer: string): void {
    if (writer === this.writer) return;
    this.writer = writer;
    for (const [seq, forwarded] of this.waiting) {
      if (forwarded.sentTo === writer) continue;
      forwarded.call = retried(forwarded.call);
      this.send(seq);
    }
  }

  /** What the writer answered (to any runtime: only this one's are taken). */
  answered(message: Extract<PeerMessage, { type: 'written' }>): void {
    if (message.to !== this.self) return;
    const forwarded = this.waiting.get(message.seq);
    if (!forwarded) return;
    if (message.error?.code === 'closed') {
      // That writer is closing: the next one gets it.
      forwarded.sentTo = undefined;
      forwarded.call = retried(forwarded.call);
      return;
    }
    this.waiting.delete(message.seq);
    if (message.error) forwarded.reject(syncError(message.error.code as TabErrorCode, message.error.message));
    else forwarded.resolve();
  }

  /** Another runtime's write for this one (`to`): commits it and answers. `counted` runs once it
   *  is committed, before the answer leaves (the leader's count then holds it). */
  async serve(message: Extract<PeerMessage, { type: 'write' }>, counted: () => void): Promise<void> {
    if (message.to !== this.self) return;
    let error: SyncErrorShape | undefined;
    try {
      await this.run({ name: message.name, args: message.args });
      counted();
    } catch (failure) {
      error = isSyncError(failure) ? failure : storageFailure(failure);
    }
    this.post({ type: 'written', to: message.from, seq: message.seq, ...(error && { error: { name: 'SyncError', code: error.code, message: error.message } }) });
  }

  /** This runtime closes: the writes still waiting fail as its own calls now do (a tab retries
   *  them with their eventIds, and a writer that did commit one recognises it). */
  close(): void {
    for (const forwarded of this.waiting.values()) forwarded.reject(syncError('closed', 'the sync runtime is closed'));
    this.waiting.clear();
  }

  private send(seq: number): void {
    const forwarded = this.waiting.get(seq);
    const writer = this.writer;
    if (!forwarded || writer === undefined) return;
    if (writer === this.self) {
      this.waiting.delete(seq);
      this.run(forwarded.call).then(forwarded.resolve, forwarded.reject);
      return;
    }
    forwarded.sentTo = writer;
    this.post({ type: 'write', to: writer, from: this.self, seq, name: forwarded.call.name, args: forwarded.call.args });
  }
}

/** The call with an eventId of its own, so that it is recognised when sent again. */
function withEventId(call: WriteCall): WriteCall {
  const at = EVENT_ID_AT[call.name];
  if (at === undefined || call.args[at] !== undefined) return call;
  const args = [...call.args];
  args[at] = nanoid();
  return { name: call.name, args };
}

function retried(call: WriteCall): WriteCall {
  const at = EVENT_ID_AT[call.name];
  if (at === undefined) return call;
  const args = [...call.args];
  args[at + 1] = true;
  return { name: call.name, args };
}
