/** The configured repositories: what a record must look like before it is stored or sent. */
import * as v from 'valibot';
import { jsonDepth, unstorableText } from '../../protocol/frame';
import { DEFAULT_MAX_MESSAGE_BYTES, EVENT_FIELDS_BYTES, MAX_BATCH_EVENTS, MAX_DATA_DEPTH, MAX_DATA_ID_LENGTH, PUSH_FRAME_ENVELOPE_BYTES, REPOSITORY_NAME } from '../../protocol/limits';
import { describeIssues, MAX_BATCH_REPOSITORIES, Operation, type SyncEvent } from '../../protocol/messages';
import type { StoredRecord } from '../../protocol/tab-api';
import type { RecordSchema } from '../config';
import { syncError } from '../errors';
import type { BatchItem } from './writes';
import { jsonMismatch } from '../../protocol/json-safe';

const encoder = new TextEncoder();
/** The longest eventId the protocol takes (EVENT_ID). */
const EVENT_ID_MAX_LENGTH = 64;

export type RemoteData = { ok: true; data: StoredRecord | undefined } | { ok: false; reason: string };

export class Repositories {
  readonly names: readonly string[];
  /** The largest frame the server takes: the default until a server says otherwise. */
  private serverFrameBytes = DEFAULT_MAX_MESSAGE_BYTES;

  constructor(private readonly schemas: Readonly<Record<string, RecordSchema>>) {
    this.names = Object.keys(schemas);
    for (const name of this.names) {
      if (!REPOSITORY_NAME.test(name)) throw new Error(`repository name ${JSON.stringify(name)} must match ${REPOSITORY_NAME}`);
    }
  }

  /** The largest frame the server takes (the engine's reading of `auth_success`). */
  serverTakes(frameBytes: number): void {
    this.serverFrameBytes = frameBytes;
  }

  has(repository: string): boolean {
    return Object.hasOwn(this.schemas, repository);
  }

  /** Throws `unknown_repository` for a name that was not configured. */
  assertKnown(repository: string): void {
    if (!this.has(repository)) throw syncError('unknown_repository', `unknown repository ${JSON.stringify(repository)}`);
  }

  /** A local record, validated; throws `invalid_record` when the schema, the id or the wire limits refuse it. */
  parseLocal(repository: string, record: unknown): StoredRecord {
    return this.checkLocal(repository, record).data;
  }

  /** The records of one many-write, each validated as `parseLocal` does, or none: throws
   *  `invalid_record` naming the first refused one (index, id, why) or a repeated id, and
   *  `too_large` when they would not go out in one push frame, which the server stores whole. */
  parseMany(repository: string, records: unknown): StoredRecord[] {
    this.assertKnown(repository);
    if (!Array.isArray(records)) throw syncError('invalid_record', `upsertMany takes an array of ${repository} records`);
    this.assertFrameCount(records.length);
    const parsed = records.map((record: unknown, index) => {
      try {
        return this.checkLocal(repository, record);
      } catch (error) {
        const id = (record as { id?: unknown } | null)?.id;
        const named = typeof id === 'string' ? ` (id ${JSON.stringify(id)})` : '';
        const why = (error as { message?: unknown }).message;
        throw syncError('invalid_record', `records[${index}]${named} refused, and with it the whole upsertMany: ${String(why)}`);
      }
    });
    assertDistinct(parsed.map(({ data }) => data.id));
    this.assertFrameBytes(parsed.reduce((sum, { data, bytes }) => sum + eventBytes(data.id, bytes), 0));
    return parsed.map(({ data }) => data);
  }

  /** The ids of one many-delete, each a valid id once; `too_large` as in `parseMany`. */
  parseIds(repository: string, ids: unknown): string[] {
    this.assertKnown(repository);
    if (!Array.isArray(ids)) throw syncError('invalid_record', 'deleteMany takes an array of ids');
    this.assertFrameCount(ids.length);
    ids.forEach((id: unknown, index) => {
      if (typeof id !== 'string' || id.length === 0 || id.length > MAX_DATA_ID_LENGTH) {
        throw syncError('invalid_record', `ids[${index}] refused, and with it the whole deleteMany: a record id must be a string of 1 to ${MAX_DATA_ID_LENGTH} characters`);
      }
    });
    const checked = ids as string[];
    assertDistinct(checked);
    this.assertFrameBytes(checked.reduce((sum, id) => sum + eventBytes(id, 0), 0));
    return checked;
  }

  /** The writes of one `lf.batch`, over several repositories: each `{ repository, upsert }`
   *  (validated as `parseLocal` does) or `{ repository, delete: id }`, or none of them: the
   *  first refused one is named (index, why) with its code; a record written twice is
   *  `invalid_record`; `too_large` when they would not go out in one push frame. */
  parseBatch(writes: unknown): BatchItem[] {
    if (!Array.isArray(writes)) throw syncError('invalid_record', 'batch takes an array of writes');
    this.assertFrameCount(writes.length);
    const checked = writes.map((write: unknown, index) => {
      try {
        return this.batchItem(write);
      } catch (error) {
        const { code, message } = error as { code?: string; message?: unknown };
        throw syncError(code === 'unknown_repository' ? code : 'invalid_record', `writes[${index}] refused, and with it the whole batch: ${String(message)}`);
      }
    });
    assertDistinct(checked.map(({ item }) => `${item.repository}/${item.id}`));
    const parts = new Set(checked.map(({ item }) => item.repository)).size;
    if (parts > MAX_BATCH_REPOSITORIES) throw syncError('too_large', `a batch names at most ${MAX_BATCH_REPOSITORIES} repositories (got ${parts})`);
    this.assertFrameBytes(checked.reduce((sum, { item, bytes }) => sum + eventBytes(item.id, bytes), parts * BATCH_PART_BYTES));
    return checked.map(({ item }) => item);
  }

  private batchItem(write: unknown): { item: BatchItem; bytes: number } {
    const { repository, upsert, delete: id } = (typeof write === 'object' && write !== null ? write : {}) as Record<string, unknown>;
    if (typeof repository !== 'string') throw syncError('invalid_record', 'a write is { repository, upsert: record } or { repository, delete: id }');
    this.assertKnown(repository);
    if ((upsert === undefined) === (id === undefined)) throw syncError('invalid_record', 'a write has either upsert or delete, not both');
    if (id !== undefined) {
      assertRecordId(id);
      return { item: { repository, id, data: undefined }, bytes: 0 };
    }
    const { data, bytes } = this.checkLocal(repository, upsert);
    return { item: { repository, id: data.id, data }, bytes };
  }

  private assertFrameCount(count: number): void {
    if (count > MAX_BATCH_EVENTS) {
      throw syncError('too_large', `a many-write takes at most ${MAX_BATCH_EVENTS} records, the most one push frame carries (got ${count}): split it into several calls`);
    }
  }

  private assertFrameBytes(bytes: number): void {
    const room = this.serverFrameBytes - PUSH_FRAME_ENVELOPE_BYTES;
    if (bytes > room) {
      throw syncError('too_large', `a many-write of about ${bytes} bytes of events does not fit in one push frame (the server takes frames of at most ${this.serverFrameBytes} bytes): split it into several calls`);
    }
  }

  /** A local record validated, and the bytes of its JSON. */
  private checkLocal(repository: string, record: unknown): { data: StoredRecord; bytes: number } {
    this.assertKnown(repository);
    const result = v.safeParse(this.schema(repository), record);
    if (!result.success) throw syncError('invalid_record', `invalid ${repository} record: ${describeIssues(result.issues)}`);
    const data = result.output;
    assertRecordId(data.id);
    // Before stringify, which throws on a BigInt: what JSON would change must not diverge unseen.
    const mismatch = jsonMismatch(data, MAX_DATA_DEPTH);
    if (mismatch) throw syncError('invalid_record', `${repository} record ${data.id} cannot be synced: ${mismatch}, which JSON does not bring back as it is`);
    // What the server would refuse must fail here, or it would wait in the outbox forever.
    let unstorable: string | undefined;
    const json = JSON.stringify(data, (key, value: unknown) => {
      unstorable ??= unstorableText(key) ?? (typeof value === 'string' ? unstorableText(value) : undefined);
      return value;
    });
    if (unstorable) throw syncError('invalid_record', `${repository} record ${data.id} cannot be synced: ${unstorable}`);
    const bytes = encoder.encode(json).byteLength;
    if (bytes > this.serverFrameBytes - PUSH_FRAME_ENVELOPE_BYTES - EVENT_FIELDS_BYTES) {
      throw syncError('invalid_record', `${repository} record ${data.id} is too large to sync (the server takes frames of at most ${this.serverFrameBytes} bytes)`);
    }
    if (jsonDepth(json) > MAX_DATA_DEPTH) {
      throw syncError('invalid_record', `${repository} record ${data.id} is nested deeper than ${MAX_DATA_DEPTH} levels`);
    }
    return { data, bytes };
  }

  /** A remote event's data, validated against the schema; a delete carries none. */
  parseRemote(repository: string, event: SyncEvent): RemoteData {
    if (event.operation === Operation.delete) return { ok: true, data: undefined };
    const result = v.safeParse(this.schema(repository), event.data);
    if (!result.success) return { ok: false, reason: describeIssues(result.issues) };
    if (result.output.id !== event.dataId) return { ok: false, reason: `data.id differs from dataId ${event.dataId}` };
    return { ok: true, data: result.output };
  }

  private schema(repository: string): RecordSchema {
    const schema = this.schemas[repository];
    if (!schema) throw syncError('unknown_repository', `unknown repository ${JSON.stringify(repository)}`);
    return schema;
  }
}

/** What an event of this record takes in a push frame, at most: its data's JSON (`dataBytes`,
 *  0 for a delete), the id as JSON, the longest eventId, the other fields and a separator. */
/** What a part of a `push_batch` adds around its events: `{"repository":"…","events":[]},`. */
const BATCH_PART_BYTES = 32 + 64;

function eventBytes(id: string, dataBytes: number): number {
  const fields = '{"eventId":"","dataId":,"operation":0,"createdAt":"0000-00-00T00:00:00.000Z","data":},';
  return dataBytes + encoder.encode(JSON.stringify(id)).byteLength + EVENT_ID_MAX_LENGTH + fields.length;
}

/** A many-write names each record once: two writes of one record in one event batch would leave
 *  which wins to their order in the frame. */
function assertDistinct(ids: readonly string[]): void {
  const seen = new Map<string, number>();
  ids.forEach((id, index) => {
    const first = seen.get(id);
    if (first !== undefined) throw syncError('invalid_record', `[${first}] and [${index}] are both record ${JSON.stringify(id)}: a many-write names each record once`);
    seen.set(id, index);
  });
}

export function assertRecordId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_DATA_ID_LENGTH) {
    throw syncError('invalid_record', `a record id must be a string of 1 to ${MAX_DATA_ID_LENGTH} characters`);
  }
}
