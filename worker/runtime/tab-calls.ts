/** The calls of the tab API that are the same whichever tab makes them: writes, reads, the
 *  shared sync's start, stop and credentials, clearing, diagnostics. */
import { EVENT_ID } from '../../protocol/limits';
import type { Diagnostics, StoredRecord } from '../../protocol/tab-api';
import type { Coordination } from '../coordination/coordination';
import type { WriteCallName } from '../coordination/write-forwarding';
import { describe, isSyncError, storageFailure, syncError } from '../errors';
import { assertRecordId, type Repositories } from '../local/repositories';
import type { WriteQueue } from '../local/writes';
import type { SyncStorage } from '../storage/storage';
import type { SyncEngine } from '../sync/engine';
import { batchCalls } from './batch-calls';
import type { NamespaceSwitch } from './namespace-switch';
import type { SharedCalls } from './tab-session';

export interface CallParts {
  repositories: Repositories;
  storage: SyncStorage;
  writes: WriteQueue;
  engine: SyncEngine;
  coordination: Coordination;
  namespaces: NamespaceSwitch;
  assertOpen(): void;
  diagnostics(): Promise<Diagnostics>;
}

/** The calls as this runtime runs them; `writes` is the routed calls' (routedCalls). */
export type LocalCalls = Omit<SharedCalls, 'writes'>;

export function tabCalls(parts: CallParts): LocalCalls {
  const { repositories, storage, writes, engine, coordination, namespaces, assertOpen } = parts;
  return {
    async upsert(repository, record, eventId, retried) {
      assertOpen();
      const data = repositories.parseLocal(repository, record);
      assertEventId(eventId);
      await writes.write(repository, data.id, data, eventId, retried === true);
    },
    async delete(repository, id, eventId, retried) {
      assertOpen();
      repositories.assertKnown(repository);
      assertRecordId(id);
      assertEventId(eventId);
      await writes.write(repository, id, undefined, eventId, retried === true);
    },
    ...batchCalls(parts),
    async get(repository, id) {
      assertOpen();
      repositories.assertKnown(repository);
      assertRecordId(id);
      const row = await readStorage(() => storage.getRecord(repository, id));
      return row && !row.deleted ? row.data : undefined;
    },
    async getAll(repository) {
      assertOpen();
      repositories.assertKnown(repository);
      return liveRecords(storage, repository);
    },
    status: async () => coordination.shown(),
    async start() {
      assertOpen();
      engine.start();
      coordination.started(true);
    },
    async stop() {
      engine.stop();
      coordination.started(false);
    },
    async updateCredentials(credentials) {
      assertOpen();
      engine.updateCredentials(credentials);
      coordination.credentialsUpdated(credentials);
    },
    async clearLocalData(namespace) {
      assertOpen();
      const shown = namespace === undefined || namespace === namespaces.active;
      const clear = () => namespaces.clear(namespace);
      try {
        if (await (shown ? withSessionStopped(engine, clear) : clear())) coordination.cleared();
      } catch (error) {
        throw storageFailure(error);
      }
    },
    diagnostics: () => parts.diagnostics(),
  };
}

/** The calls as tabs make them: the ones that write go through coordination, which commits them
 *  here or forwards them to the database's writer; `calls` are what commits them here. */
export function routedCalls(calls: LocalCalls, coordination: Coordination, assertOpen: () => void): SharedCalls {
  coordination.writeWith(({ name, args }) => (calls[name] as (...given: unknown[]) => Promise<void>)(...args));
  const route =
    (name: WriteCallName) =>
    async (...args: unknown[]): Promise<void> => {
      assertOpen();
      await coordination.write({ name, args });
    };
  const [upsert, remove] = [route('upsert'), route('delete')];
  /** One queued write, routed as its own call (validated alone: a bad one fails by itself). */
  const queued = (write: unknown, retried: unknown): Promise<void> => {
    if (!Array.isArray(write) || (write[0] !== 'upsert' && write[0] !== 'delete')) {
      return Promise.reject(syncError('invalid_record', 'a queued write is [\'upsert\' or \'delete\', repository, record or id, eventId]'));
    }
    return (write[0] === 'upsert' ? upsert : remove)(write[1], write[2], write[3], retried);
  };
  return {
    ...calls,
    upsert,
    delete: remove,
    // Issued in one go, the writes join one commit (the write queue's group commit).
    async writes(writes, retried) {
      assertOpen();
      if (!Array.isArray(writes)) throw syncError('invalid_record', 'writes takes an array of queued writes');
      return Promise.all(writes.map((write: unknown) => queued(write, retried).then(() => null, (error: unknown) => (isSyncError(error) ? error : describe(error)))));
    },
    upsertMany: route('upsertMany'),
    deleteMany: route('deleteMany'),
    batch: route('batch'),
    patch: route('patch'),
    clearLocalData: route('clearLocalData'),
  };
}

/** A repository's live records, sorted by id. */
export async function liveRecords(storage: SyncStorage, repository: string): Promise<StoredRecord[]> {
  const rows = await readStorage(() => storage.getRecords(repository));
  return rows.flatMap((row) => (row.deleted || !row.data ? [] : [row.data]));
}

/** Runs `change` of the shown data with the session stopped: a catch-up under way would write
 *  cursors into the emptied database. The next session catches up from the start. */
export async function withSessionStopped<T>(engine: Pick<SyncEngine, 'block' | 'unblock'>, change: () => Promise<T>): Promise<T> {
  engine.block('clearing');
  try {
    return await change();
  } finally {
    engine.unblock('clearing');
  }
}

/** A tab's id for its write becomes the event's id: it must be one the server accepts. */
function assertEventId(eventId: string | undefined): void {
  if (eventId !== undefined && (typeof eventId !== 'string' || !EVENT_ID.test(eventId))) {
    throw syncError('invalid_record', `eventId must match ${EVENT_ID}`);
  }
}

async function readStorage<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    throw storageFailure(error);
  }
}
