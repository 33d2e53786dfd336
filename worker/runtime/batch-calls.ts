/** The tab API's batches and partial updates: `upsertMany`, `deleteMany` and `batch` (over
 *  several repositories; all of it or none, validated whole before anything is stored) and `patch` (merged into the
 *  current record inside the write's transaction, validated after the merge). */
import { EVENT_ID, MAX_BATCH_EVENTS } from '../../protocol/limits';
import type { StoredRecord } from '../../protocol/tab-api';
import { syncError } from '../errors';
import { assertRecordId, type Repositories } from '../local/repositories';
import type { Merge, WriteQueue } from '../local/writes';
import type { SharedCalls } from './tab-session';

export interface BatchParts {
  repositories: Repositories;
  writes: WriteQueue;
  assertOpen(): void;
}

export function batchCalls({ repositories, writes, assertOpen }: BatchParts): Pick<SharedCalls, 'upsertMany' | 'deleteMany' | 'batch' | 'patch'> {
  return {
    async upsertMany(repository, records, eventId, retried) {
      assertOpen();
      const data = repositories.parseMany(repository, records);
      assertBatchId(eventId);
      await writes.writeMany(repository, data.map((record) => ({ id: record.id, data: record })), eventId, retried === true);
    },
    async deleteMany(repository, ids, eventId, retried) {
      assertOpen();
      const checked = repositories.parseIds(repository, ids);
      assertBatchId(eventId);
      await writes.writeMany(repository, checked.map((id) => ({ id, data: undefined })), eventId, retried === true);
    },
    async batch(batchWrites, eventId, retried) {
      assertOpen();
      const items = repositories.parseBatch(batchWrites);
      assertBatchId(eventId);
      await writes.writeBatch(items, eventId, retried === true);
    },
    async patch(repository, id, fields, eventId, retried) {
      assertOpen();
      repositories.assertKnown(repository);
      assertRecordId(id);
      assertFields(id, fields);
      if (eventId !== undefined && (typeof eventId !== 'string' || !EVENT_ID.test(eventId))) {
        throw syncError('invalid_record', `eventId must match ${EVENT_ID}`);
      }
      const merge: Merge = (current) => {
        if (!current?.data || current.deleted) throw syncError('not_found', `${repository} has no record ${JSON.stringify(id)} to patch`);
        return repositories.parseLocal(repository, { ...current.data, ...fields });
      };
      await writes.patch(repository, id, merge, eventId, retried === true);
    },
  };
}

/** A many-write's id names its records' events `${eventId}-${index}`: each must be an eventId. */
function assertBatchId(eventId: string | undefined): void {
  if (eventId !== undefined && (typeof eventId !== 'string' || !EVENT_ID.test(`${eventId}-${MAX_BATCH_EVENTS - 1}`))) {
    throw syncError('invalid_record', 'a many-write\'s eventId must be 1 to 60 URL-safe characters (A-Z, a-z, 0-9, _ and -)');
  }
}

/** A patch's fields: a plain object of defined values that leaves the id alone. */
function assertFields(id: string, fields: unknown): asserts fields is Record<string, unknown> {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw syncError('invalid_record', 'patch takes an object of the fields to change');
  }
  for (const [key, value] of Object.entries(fields as StoredRecord)) {
    if (key === '__proto__') throw syncError('invalid_record', 'a patch cannot carry a __proto__ field');
    if (value === undefined) {
      throw syncError('invalid_record', `patch field ${key} is undefined, which JSON cannot carry: to remove a field, upsert the record without it`);
    }
    if (key === 'id' && value !== id) throw syncError('invalid_record', `a patch cannot change a record's id (${JSON.stringify(id)})`);
  }
}
