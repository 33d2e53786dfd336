/**
 * Catch-up by cursor: after each authentication, repositories are requested one after the other
 * from their stored cursor (`request_events {afterSequence}`) until the server says
 * `sync_complete`. A broadcast that arrives meanwhile is applied but moves its repository's cursor
 * only once that repository's own pages are all applied. Emits `done` once every repository is in.
 */
import type { ClientMessage, MessageOf, ServerMessage, SyncEvent } from '../../protocol/messages';
import type { Clock } from '../clock';
import type { Logger } from '../config';
import { Emitter } from '../emitter';
import type { RemotePage } from '../local/remote';
import type { StatusStore } from '../runtime/status';
import type { SyncStorage } from '../storage/storage';

interface Run {
  current: string | undefined;
  waiting: string[];
  received: number;
  /** Highest sequence broadcast per repository while it was catching up. */
  broadcastSeen: Map<string, number>;
}

export interface CatchUpOptions {
  repositories: readonly string[];
  storage: SyncStorage;
  status: StatusStore;
  /** Sends on the socket; false when there is none. */
  send(message: ClientMessage): boolean;
  clock: Clock;
  log: Required<Logger>;
}

export class CatchUp extends Emitter<{ done: undefined }> {
  private run: Run | null = null;
  /** Per repository, the end of its last complete catch-up (ISO-8601). */
  private readonly syncedAt = new Map<string, string>();

  constructor(private readonly options: CatchUpOptions) {
    super();
  }

  get running(): boolean {
    return this.run !== null;
  }

  /** When each repository last finished a catch-up, if it did since the storage opened. */
  lastSyncs(): ReadonlyMap<string, string> {
    return this.syncedAt;
  }

  /** The storage was replaced by an empty one: what was synced into the old one is not there. */
  storageReplaced(): void {
    this.syncedAt.clear();
  }

  /** Starts over from the first repository. */
  async start(): Promise<void> {
    this.run = { current: undefined, waiting: [...this.options.repositories], received: 0, broadcastSeen: new Map() };
    this.options.status.update({ syncing: true });
    await this.requestNext(this.run);
  }

  /** The session ended or lost its authentication: the next one starts over. */
  stop(): void {
    this.run = null;
  }

  /** The pages to apply for these `events` frames, each with where its cursor may move. */
  pages(frames: readonly MessageOf<ServerMessage, 'events'>[]): RemotePage[] {
    const pages: RemotePage[] = [];
    for (const { repository, events, hasMore } of frames) {
      if (!this.options.repositories.includes(repository)) {
        this.options.log.warn(`dropped events of unknown repository ${repository}`);
        continue;
      }
      const highest = highestSequence(events);
      const run = this.run;
      let cursor: number | undefined = highest;
      if (run && (run.current === repository || run.waiting.includes(repository))) {
        const isPage = hasMore !== undefined && run.current === repository;
        if (isPage) {
          run.received += events.length;
          this.options.status.update({ progress: { repository, received: run.received } });
        } else {
          if (highest !== undefined) run.broadcastSeen.set(repository, Math.max(highest, run.broadcastSeen.get(repository) ?? 0));
          cursor = undefined;
        }
      }
      pages.push({ repository, events, cursor });
    }
    return pages;
  }

  /** `sync_complete`: the repository being caught up is in; the next one is requested. */
  async completed(repository: string | undefined): Promise<void> {
    const run = this.run;
    const current = run?.current;
    if (!run || current === undefined || (repository !== undefined && repository !== current)) return;
    const seen = run.broadcastSeen.get(current);
    if (seen !== undefined) await this.options.storage.commit([], new Map([[current, seen]]));
    if (run === this.run) this.syncedAt.set(current, this.isoNow());
    await this.requestNext(run);
  }

  private async requestNext(run: Run): Promise<void> {
    const repository = run.waiting.shift();
    run.current = repository;
    run.received = 0;
    if (repository === undefined) {
      this.run = null;
      this.options.status.update({ syncing: false, progress: undefined, lastSyncAt: this.isoNow() });
      this.emit('done', undefined);
      return;
    }
    const afterSequence = await this.options.storage.getCursor(repository);
    if (run !== this.run) return;
    this.options.send({ type: 'request_events', repository, afterSequence });
    this.options.status.update({ progress: { repository, received: 0 } });
  }

  private isoNow(): string {
    return new Date(this.options.clock.now()).toISOString();
  }
}

function highestSequence(events: readonly SyncEvent[]): number | undefined {
  let highest: number | undefined;
  for (const { serverSequence } of events) {
    if (serverSequence !== undefined && (highest === undefined || serverSequence > highest)) highest = serverSequence;
  }
  return highest;
}
