/**
 * The other runtimes of this browser profile on the same database, over a BroadcastChannel. Where
 * SharedWorker is missing each tab runs its own worker: they share IndexedDB, and tell each other
 * here what IndexedDB cannot: the leader (the holder of the socket) publishes its status, every
 * runtime announces what it committed, and passes on what its tab asked of the shared sync.
 * Messages are checked on arrival like any other crossing a process boundary.
 */
import * as v from 'valibot';
import { runtimesChannelName, type SyncStatus } from '../../protocol/tab-api';
import type { Logger } from '../config';

const PeerMessageSchema = v.variant('type', [
  /** A runtime joined: the leader answers with its status. */
  v.object({ type: v.literal('hello') }),
  /** The leader's status; `counted`: per runtime, the last of its writes (`changed.seq`) the
   *  leader counted in `status.pending` (absent from older runtimes). */
  v.object({
    type: v.literal('status'),
    status: v.custom<SyncStatus>((value) => typeof value === 'object' && value !== null),
    counted: v.optional(v.record(v.string(), v.number())),
    /** When it began to lead (epoch ms): its count holds every write committed before. */
    leadingSince: v.optional(v.number()),
    /** The leader's id: it commits every runtime's writes (absent from older runtimes, whose
     *  followers write the database themselves). */
    writer: v.optional(v.string()),
  }),
  /** A tab's write (or clear), forwarded by a runtime that does not hold the database to the
   *  one that does (`to`); `seq` numbers it among `from`'s writes, for the leader's count. */
  v.object({
    type: v.literal('write'),
    to: v.string(),
    from: v.string(),
    seq: v.number(),
    name: v.picklist(['upsert', 'delete', 'upsertMany', 'deleteMany', 'batch', 'patch', 'clearLocalData']),
    args: v.array(v.unknown()),
  }),
  /** The writer's answer to `to`'s write `seq`: committed (with `written` events queued), or the
   *  error the write failed with. */
  v.object({
    type: v.literal('written'),
    to: v.string(),
    seq: v.number(),
    error: v.optional(v.object({ name: v.literal('SyncError'), code: v.string(), message: v.string() })),
  }),
  /** Records committed (`[repository, id]`), and how many of them are local writes in the outbox;
   *  a runtime numbers the commits holding its writes (`from`, `seq`). */
  v.object({
    type: v.literal('changed'),
    records: v.array(v.tuple([v.string(), v.string()])),
    written: v.number(),
    from: v.optional(v.string()),
    seq: v.optional(v.number()),
  }),
  v.object({ type: v.literal('start') }),
  v.object({ type: v.literal('stop') }),
  v.object({
    type: v.literal('credentials'),
    credentials: v.object({ authToken: v.optional(v.string()), headers: v.optional(v.record(v.string(), v.string())) }),
  }),
  /** The server refused the leader's credentials and its own tabs had none better. */
  v.object({ type: v.literal('credentials_needed') }),
  /** The leader's session is another namespace's: every runtime moves to that one's database. */
  v.object({ type: v.literal('namespace'), namespace: v.string() }),
  /** The shown namespace's local data was cleared. */
  v.object({ type: v.literal('cleared') }),
]);
export type PeerMessage = v.InferOutput<typeof PeerMessageSchema>;

export interface Peers {
  post(message: PeerMessage): void;
  /** Delivers the other runtimes' messages from now on. */
  listen(handler: (message: PeerMessage) => void): void;
  close(): void;
}

export function openPeers(databaseName: string, log: Logger): Peers {
  const channel = new BroadcastChannel(runtimesChannelName(databaseName));
  let closed = false;
  return {
    post(message) {
      // A closed channel throws; what a closing runtime still has to say is of no use to anyone.
      if (!closed) channel.postMessage(message);
    },
    listen(handler) {
      channel.onmessage = (event: MessageEvent) => {
        const parsed = v.safeParse(PeerMessageSchema, event.data);
        if (parsed.success) handler(parsed.output);
        else log.warn('dropped a malformed message from another worker');
      };
    },
    close: () => {
      closed = true;
      channel.close();
    },
  };
}
