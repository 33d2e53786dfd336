/**
 * The local events queued and not yet acknowledged, remembered beside the database (as commits
 * queued them, or as read back for sending), so that when the database is taken away they can be
 * queued again in the fresh one with the same eventIds (the server stores an eventId once).
 */
import type { SyncEvent } from '../../protocol/messages';
import { compareEvents } from '../../protocol/order';

/** Beyond this many unacknowledged events (a long time offline) the oldest are forgotten here:
 *  a loss then reports them as lost. */
const MAX_REMEMBERED = 10_000;
/** …and beyond about this much data (characters of their JSON), so that large records written
 *  offline do not pile up in the worker's memory. */
const MAX_REMEMBERED_CHARS = 16 * 1024 * 1024;

export interface QueuedEvent {
  repository: string;
  event: SyncEvent;
  /** The many-write it belongs to (OutboxEntry.group). */
  group?: string;
}

/** Local events queued and not yet acknowledged, by eventId, with their outbox key once known. */
export class UnackedEvents {
  private readonly byEventId = new Map<string, QueuedEvent & { key: number | undefined; chars: number }>();
  private readonly eventIdByKey = new Map<number, string>();
  private chars = 0;

  add(entry: QueuedEvent, key?: number): void {
    const { eventId } = entry.event;
    const known = this.byEventId.get(eventId);
    if (known) {
      if (key !== undefined && known.key === undefined) {
        known.key = key;
        this.eventIdByKey.set(key, eventId);
      }
      return;
    }
    const chars = JSON.stringify(entry.event).length;
    this.byEventId.set(eventId, { ...queuedEvent(entry), key, chars });
    this.chars += chars;
    if (key !== undefined) this.eventIdByKey.set(key, eventId);
    while (this.byEventId.size > MAX_REMEMBERED || (this.chars > MAX_REMEMBERED_CHARS && this.byEventId.size > 1)) {
      const [oldestId] = this.byEventId.keys();
      if (oldestId !== undefined) this.forget(oldestId);
    }
  }

  acknowledged(keys: readonly number[]): void {
    for (const key of keys) {
      const eventId = this.eventIdByKey.get(key);
      if (eventId !== undefined) this.forget(eventId);
    }
  }

  private forget(eventId: string): void {
    const known = this.byEventId.get(eventId);
    if (!known) return;
    this.byEventId.delete(eventId);
    if (known.key !== undefined) this.eventIdByKey.delete(known.key);
    this.chars -= known.chars;
  }

  /** Oldest first, by the events' own order; a many-write's events together, where its first is. */
  take(): QueuedEvent[] {
    const sorted = [...this.byEventId.values()].map(queuedEvent).sort((a, b) => compareEvents(a.event, b.event));
    const runs: QueuedEvent[][] = [];
    const groups = new Map<string, QueuedEvent[]>();
    for (const queued of sorted) {
      let run = queued.group === undefined ? undefined : groups.get(queued.group);
      if (!run) {
        runs.push((run = []));
        if (queued.group !== undefined) groups.set(queued.group, run);
      }
      run.push(queued);
    }
    return runs.flat();
  }
}

function queuedEvent({ repository, event, group }: QueuedEvent): QueuedEvent {
  return group === undefined ? { repository, event } : { repository, event, group };
}
