/** The configured repositories: what a record must look like before it is stored or sent. */
import * as v from 'valibot';
import { jsonDepth, unstorableText } from '../../protocol/frame';
import { DEFAULT_MAX_MESSAGE_BYTES, EVENT_FIELDS_BYTES, MAX_DATA_DEPTH, MAX_DATA_ID_LENGTH, PUSH_FRAME_ENVELOPE_BYTES, REPOSITORY_NAME } from '../../protocol/limits';
import { describeIssues, Operation, type SyncEvent } from '../../protocol/messages';
import type { StoredRecord } from '../../protocol/tab-api';
import type { RecordSchema } from '../config';
import { syncError } from '../errors';
import { jsonMismatch } from '../../protocol/json-safe';

const encoder = new TextEncoder();

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
    if (encoder.encode(json).byteLength > this.serverFrameBytes - PUSH_FRAME_ENVELOPE_BYTES - EVENT_FIELDS_BYTES) {
      throw syncError('invalid_record', `${repository} record ${data.id} is too large to sync (the server takes frames of at most ${this.serverFrameBytes} bytes)`);
    }
    if (jsonDepth(json) > MAX_DATA_DEPTH) {
      throw syncError('invalid_record', `${repository} record ${data.id} is nested deeper than ${MAX_DATA_DEPTH} levels`);
    }
    return data;
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

export function assertRecordId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_DATA_ID_LENGTH) {
    throw syncError('invalid_record', `a record id must be a string of 1 to ${MAX_DATA_ID_LENGTH} characters`);
  }
}
