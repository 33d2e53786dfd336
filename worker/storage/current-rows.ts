/**
 * What a commit decides on: the current row of every record it touches and the stored sequence
 * of every cursor it moves, from the writer's known versions where they answer, else read in the
 * commit's own transaction.
 */
import type { KnownVersions } from './known-versions';
import type { CursorStore, RecordStore } from './idb-schema';
import { recordKey, type RecordChange, type RecordRow } from './storage';

/** A batch's current rows are read with one range read, bounded to this many rows per touched
 *  record: a sparse batch in a dense repository falls back to one read per record. */
const RANGE_ROWS_PER_RECORD = 2;

/** The current rows of the touched records, by recordKey: from `known` where it knows a record's
 *  version and the change needs no data (a row without data then stands for it), else read. */
export async function currentRows(records: RecordStore, changes: readonly RecordChange[], known: KnownVersions | undefined): Promise<Map<string, RecordRow | undefined>> {
  if (!known) return readRows(records, changes);
  const rows = new Map<string, RecordRow | undefined>();
  const unknown: RecordChange[] = [];
  for (const change of changes) {
    const key = recordKey(change.repository, change.id);
    const version = known.version(key);
    if (version === 'unread' || (change.needsData && version !== 'absent')) unknown.push(change);
    else if (!rows.has(key)) rows.set(key, version === 'absent' ? undefined : { repository: change.repository, id: change.id, ...version });
  }
  if (unknown.length === 0) return rows;
  for (const [key, row] of await readRows(records, unknown)) {
    known.read(key, row);
    rows.set(key, row);
  }
  return rows;
}

/** Each named cursor with the sequence asked for and the one stored (known, or read). */
export function currentCursors(store: CursorStore, cursors: ReadonlyMap<string, number>, known: KnownVersions | undefined): Promise<(readonly [string, number, number])[]> {
  return Promise.all([...cursors].map(async ([repository, sequence]) => [repository, sequence, known ? known.cursor(repository) : ((await store.get(repository)) ?? 0)] as const));
}

/**
 * The current rows of the touched records, by recordKey. A lone record is one `get`. A batch is one
 * bounded `getAll` per repository over the span of its ids (a page of catch-up into an empty or
 * clustered store is then one request, not hundreds); ids past what the bound returned are
 * read one by one.
 */
async function readRows(records: RecordStore, changes: readonly RecordChange[]): Promise<Map<string, RecordRow | undefined>> {
  const rows = new Map<string, RecordRow | undefined>();
  const idsByRepository = new Map<string, Set<string>>();
  for (const { repository, id } of changes) {
    let ids = idsByRepository.get(repository);
    if (!ids) idsByRepository.set(repository, (ids = new Set()));
    ids.add(id);
  }
  const readOne = async (repository: string, id: string) => {
    rows.set(recordKey(repository, id), await records.get([repository, id]));
  };
  await Promise.all([...idsByRepository].map(async ([repository, idSet]) => {
    const ids = [...idSet];
    if (ids.length === 1) return readOne(repository, ids[0]!);
    ids.sort();
    const limit = ids.length * RANGE_ROWS_PER_RECORD;
    const found = await records.getAll(IDBKeyRange.bound([repository, ids[0]!], [repository, ids.at(-1)!]), limit);
    for (const row of found) rows.set(recordKey(repository, row.id), row);
    // A full answer may have stopped short of the span: beyond its last id, nothing is known.
    const knownThrough = found.length < limit ? undefined : found.at(-1)?.id;
    const unread: Promise<void>[] = [];
    for (const id of ids) {
      if (rows.has(recordKey(repository, id))) continue;
      if (knownThrough === undefined || id <= knownThrough) rows.set(recordKey(repository, id), undefined);
      else unread.push(readOne(repository, id));
    }
    await Promise.all(unread);
  }));
  return rows;
}
