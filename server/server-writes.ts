/**
 * Server-side writes: a job or a webhook writes records into a namespace, and every client gets
 * them as it gets any other event. Each record becomes an event the server names (a fresh
 * eventId) and dates like a client's write (never older than the record's current winner, so it
 * wins the LWW order the way a user's edit of what they saw does), checked as a client's push
 * is: the JSON round trip, the frame's own decoding and limits, the namespace's quota.
 */
import { randomUUID } from 'node:crypto';
import {
  ClientMessageSchema,
  decodeFrame,
  eventIdAfter,
  identifierProblem,
  MAX_BATCH_EVENTS,
  MAX_DATA_DEPTH,
  nextTimestamp,
  Operation,
  REPOSITORY_NAME,
  type SequencedEvent,
  type SyncEvent,
} from '../protocol';
import { jsonMismatch } from '../protocol/json-safe';
import type { StoredRecord } from '../protocol/tab-api';
import type { ServerConfig } from './config';
import type { EventStore, Winner } from './store/event-store';
import type { WriteChecks } from './write-checks';

/** The origin of a server-side write, as committed events and onCommitted report it. */
export const SERVER_ORIGIN = 'server';

/** A server-side write refused for what it holds: nothing of it was stored. */
export class ServerWriteRefused extends Error {
  constructor(
    readonly code: 'invalid_message' | 'too_large' | 'invalid_record' | 'forbidden' | 'internal',
    message: string,
  ) {
    super(message);
    this.name = 'ServerWriteRefused';
  }
}

export interface ServerWrites {
  /**
   * Inserts or replaces `records` (each `{ id, ...fields }`, as a tab's `upsert` takes them) in
   * one atomic commit; resolves with the stored events, their server-assigned eventIds and
   * sequences. Rejects with ServerWriteRefused (a record that is not JSON, too large, ...) or
   * AppendRefused (`quota_exceeded`), storing nothing.
   */
  append(namespace: string, repository: string, records: readonly StoredRecord[]): Promise<SequencedEvent[]>;
  /** Deletes the records of `ids` (a tombstone each, as a tab's `delete` writes); as `append`. */
  remove(namespace: string, repository: string, ids: readonly string[]): Promise<SequencedEvent[]>;
}

/** One record to write: its data, or none for a delete. */
interface Write {
  id: string;
  data: StoredRecord | undefined;
}

type Limits = Pick<ServerConfig, 'maxMessageBytes' | 'namespaceQuotaBytes'>;

/** `schemas` are the app's record schemas (createSyncServer's), checked as a client's push is; a
 *  server write is the app's own, so `authorizeWrite` is not asked. */
export function createServerWrites(store: EventStore, limits: Limits, schemas?: WriteChecks, now: () => number = Date.now): ServerWrites {
  const write = async (namespace: string, repository: string, writes: readonly Write[]): Promise<SequencedEvent[]> => {
    checkTarget(namespace, repository, writes.length);
    const ids = writes.map((w) => w.id);
    const winners = await store.readWinners(namespace, repository, ids);
    const events = writes.map((w) => checkedEvent(repository, eventFor(w, winners.get(w.id), now()), limits.maxMessageBytes));
    const refusal = await schemas?.refusal({ principal: SERVER_ORIGIN, namespace, repository, events });
    if (refusal) refuse(refusal.message, refusal.code);
    const results = await store.append(namespace, repository, events, { quotaBytes: limits.namespaceQuotaBytes, origin: SERVER_ORIGIN });
    return results.map((r) => r.event);
  };
  return {
    // async: a refusal rejects the promise, never throws at the call.
    append: async (namespace, repository, records) => write(namespace, repository, recordWrites(records)),
    remove: async (namespace, repository, ids) => write(namespace, repository, deleteWrites(ids)),
  };
}

function refuse(message: string, code: ServerWriteRefused['code'] = 'invalid_message'): never {
  throw new ServerWriteRefused(code, message);
}

function checkTarget(namespace: string, repository: string, count: number): void {
  const problem = identifierProblem(namespace);
  if (problem) refuse(`namespace ${problem}`);
  if (typeof repository !== 'string' || !REPOSITORY_NAME.test(repository)) refuse(`repository must match ${REPOSITORY_NAME}`);
  if (count === 0) refuse('nothing to write: give at least one record');
  if (count > MAX_BATCH_EVENTS) refuse(`at most ${MAX_BATCH_EVENTS} records per write, as in a client's push; got ${count}`);
}

function recordWrites(records: readonly StoredRecord[]): Write[] {
  if (!Array.isArray(records)) refuse('records must be an array of records');
  const writes = records.map((record: unknown, i): Write => {
    if (typeof record !== 'object' || record === null || Array.isArray(record)) refuse(`record ${i} must be an object with an id`);
    // Before stringify, which throws on a BigInt or a cycle: what JSON would change is refused, named.
    const mismatch = jsonMismatch(record, MAX_DATA_DEPTH);
    if (mismatch) refuse(`record ${i}: ${mismatch}, which JSON does not bring back as it is`);
    const { id } = record as { id?: unknown };
    if (typeof id !== 'string') refuse(`record ${i} needs an id (a string)`);
    return { id, data: record as StoredRecord };
  });
  return onceEach(writes);
}

function deleteWrites(ids: readonly string[]): Write[] {
  if (!Array.isArray(ids)) refuse('ids must be an array of record ids');
  return onceEach(
    ids.map((id: unknown, i): Write => {
      if (typeof id !== 'string') refuse(`id ${i} must be a string`);
      return { id, data: undefined };
    }),
  );
}

/** Two writes of one record in one commit would tie on the order: each record once. */
function onceEach(writes: Write[]): Write[] {
  const seen = new Set<string>();
  for (const { id } of writes) {
    if (seen.has(id)) refuse(`record ${JSON.stringify(id)} is written twice: give each record once per write`);
    seen.add(id);
  }
  return writes;
}

/** The event a client would write over `current`: dated never older, and ahead of it on a tie. */
function eventFor({ id, data }: Write, current: Winner | undefined, now: number): SyncEvent {
  const createdAt = nextTimestamp(now, current);
  const own = randomUUID();
  const eventId = current !== undefined && current.createdAt === createdAt ? eventIdAfter(current.eventId, own) : own;
  if (data === undefined) return { eventId, dataId: id, operation: Operation.delete, createdAt };
  const operation = current === undefined || current.deleted ? Operation.insert : Operation.update;
  return { eventId, dataId: id, operation, createdAt, data };
}

/** The event as a client's `push_event` frame, decoded as the server decodes one: what is stored
 *  is exactly what a push of it would store, and what a push would refuse is refused. */
function checkedEvent(repository: string, event: SyncEvent, maxMessageBytes: number): SyncEvent {
  let text: string;
  try {
    text = JSON.stringify({ type: 'push_event', repository, event });
  } catch (error) {
    refuse(`record ${JSON.stringify(event.dataId)} cannot be written as JSON: ${(error as Error).message}`);
  }
  const decoded = decodeFrame(text, ClientMessageSchema, maxMessageBytes);
  if (!decoded.ok) refuse(`record ${JSON.stringify(event.dataId)}: ${decoded.error}`, decoded.code);
  if (decoded.message.type !== 'push_event') throw new Error('a push_event frame decoded as another message');
  return decoded.message.event;
}
