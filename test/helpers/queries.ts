/** For the query tests: a record type with fields to query, and a tab that applies query updates. */
import * as v from 'valibot';
import { applyDelta } from '../../protocol/query';
import type { QueryUpdate, StoredRecord } from '../../protocol/tab-api';
import { RecordingTab } from './worker';

export const TaskSchema = v.object({ id: v.string(), title: v.string(), done: v.boolean(), listId: v.optional(v.string()), n: v.optional(v.number()) });
export type Task = v.InferOutput<typeof TaskSchema>;

/** A tab that applies each query update as the facade does and keeps the result per watch. */
export class QueryTab extends RecordingTab {
  readonly updates = new Map<number, QueryUpdate[]>();
  readonly windows = new Map<number, StoredRecord[]>();
  readonly counts = new Map<number, number>();

  query(watchId: number, update: QueryUpdate): void {
    this.updates.set(watchId, [...(this.updates.get(watchId) ?? []), update]);
    if ('window' in update) this.windows.set(watchId, update.window);
    else if ('delta' in update) this.windows.set(watchId, applyDelta(this.windows.get(watchId) ?? [], update.delta));
    this.counts.set(watchId, 'delta' in update ? update.delta.count : update.count);
  }

  ids(watchId: number): string[] | undefined {
    return this.windows.get(watchId)?.map((record) => record.id);
  }
}
