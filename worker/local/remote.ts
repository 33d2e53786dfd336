/** Applying events from the server: validated against the schema, merged by the one order. */
import type { SyncEvent } from '../../protocol/messages';
import type { Logger } from '../config';
import { describe } from '../errors';
import { incomingWins, type ConflictResolver } from './merge';
import type { Repositories } from './repositories';
import { rowOf, type RecordChange, type RecordRow, type SyncStorage } from '../storage/storage';

/** One frame's events for a repository, and where its cursor may move once they are stored. */
export interface RemotePage {
  repository: string;
  events: readonly SyncEvent[];
  cursor?: number | undefined;
}

export class RemoteApplier {
  constructor(
    private readonly repositories: Repositories,
    private readonly storage: SyncStorage,
    private readonly resolveConflict: ConflictResolver | undefined,
    /** Called after a commit with the rows it changed. */
    private readonly changed: (rows: readonly RecordRow[]) => void,
    private readonly log: Logger,
  ) {}

  /**
   * Applies the pages' events (invalid ones are dropped and logged, never stored) and moves
   * each page's repository cursor to its `cursor`, when given, all in one transaction: pages
   * that queued up behind a commit cost one transaction together, not one each.
   */
  async apply(pages: readonly RemotePage[]): Promise<void> {
    const changes: RecordChange[] = [];
    const cursors = new Map<string, number>();
    for (const { repository, events, cursor } of pages) {
      for (const event of events) {
        const parsed = this.repositories.parseRemote(repository, event);
        if (!parsed.ok) {
          this.log.warn(`dropped ${repository} event ${event.eventId}: ${parsed.reason}`);
          continue;
        }
        const incoming = rowOf(repository, parsed.data, event);
        // An app's resolver sees the current data; the default order only its version.
        const needsData = this.resolveConflict !== undefined;
        changes.push({ repository, id: event.dataId, needsData, decide: (current) => (this.wins(current, incoming) ? { row: incoming } : undefined) });
      }
      if (cursor !== undefined) cursors.set(repository, Math.max(cursor, cursors.get(repository) ?? 0));
    }
    if (changes.length === 0 && cursors.size === 0) return;
    const written = await this.storage.commit(changes, cursors);
    if (written.length > 0) this.changed(written);
  }

  private wins(current: RecordRow | undefined, incoming: RecordRow): boolean {
    try {
      return incomingWins(current, incoming, this.resolveConflict);
    } catch (error) {
      // A broken resolver must not wedge sync: fall back to the default order for this pair.
      this.log.warn(`resolveConflict threw for ${incoming.repository}/${incoming.id}: ${describe(error)}`);
      return incomingWins(current, incoming);
    }
  }
}
