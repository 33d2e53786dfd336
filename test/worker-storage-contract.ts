/**
 * What every SyncStorage must do, whatever keeps the data: run by worker-storage.test.ts against
 * IndexedDB and by worker-storage-memory.test.ts against memory.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Operation, type SyncEvent } from '../protocol/messages';
import { normalizeQuery, type NormalizedQuery } from '../protocol/query';
import { incomingWins } from '../worker/local/merge';
import type { RecordChange, RecordRow, SyncStorage } from '../worker/storage/storage';

export const row = (id: string, createdAt: string, title = id): RecordRow => ({
  repository: 'todos', id, data: { id, title }, deleted: false, createdAt, eventId: `${id}-${createdAt}`,
});
/** A remote event as the applier merges it: stored only when it wins. */
export const remote = (incoming: RecordRow): RecordChange => ({
  repository: incoming.repository, id: incoming.id, decide: (current) => (incomingWins(current, incoming) ? { row: incoming } : undefined),
});
export const local = (id: string, n: number): RecordChange => {
  const event: SyncEvent = { eventId: `e${n}`, dataId: id, operation: Operation.insert, createdAt: '2024-01-01T00:00:00.000Z', data: { id } };
  return { repository: 'todos', id, decide: () => ({ row: row(id, event.createdAt), push: event }) };
};
const tombstone = (id: string, createdAt: string): RecordRow => ({ repository: 'todos', id, deleted: true, createdAt, eventId: `${id}-del-${createdAt}` });

const queryOf = (input: unknown): NormalizedQuery => {
  const normalized = normalizeQuery(input);
  if (!normalized.ok) throw new Error(normalized.error.message);
  return normalized.query;
};

export function storageContract(kind: string, open: () => Promise<SyncStorage>): void {
  test(`${kind}: count is how many live records match the where, whatever the window; the same as the rows a query without one reads; a watch starts from those ids`, async () => {
    const storage = await open();
    const titled = (id: string, title: string) => remote(row(id, '2024-01-01T00:00:00.000Z', title));
    await storage.commit([titled('a', 'apple'), titled('b', 'avocado'), titled('c', 'banana'), titled('d', 'apricot')]);
    await storage.commit([remote({ ...row('x', '2024-01-01T00:00:00.000Z', 'acorn'), repository: 'notes' })]);
    await storage.commit([remote(tombstone('d', '2024-01-02T00:00:00.000Z'))]);
    const startsWithA = { where: { title: { startsWith: 'a' } }, orderBy: { title: 'asc' }, limit: 1, offset: 1 };
    assert.equal(await storage.count('todos', queryOf(startsWithA)), 2, 'apple and avocado: not the deleted apricot, not the notes');
    assert.equal((await storage.query('todos', queryOf({ where: startsWithA.where }))).rows.length, 2);
    assert.equal(await storage.count('todos', queryOf({})), 3);
    assert.equal(await storage.count('lists', queryOf({})), 0);
    const { start } = await storage.watchStart('todos', queryOf(startsWithA), 1);
    assert.deepEqual([...start.matching].sort(), ['a', 'b'], 'a watch starts from the ids of every match');
    assert.equal(start.prefix[0]?.id, 'a', 'and its first rows in order, from the start of the matches');
  });

  test(`${kind}: a many-write's group stays on its outbox entries, as queued and as read back`, async () => {
    const storage = await open();
    const grouped = (change: RecordChange): RecordChange => ({ ...change, decide: (current) => ({ ...change.decide(current)!, group: 'g1' }) });
    const result = await storage.commit([local('a', 1), grouped(local('b', 2)), grouped(local('c', 3))]);
    const groups = (entries: readonly { group?: string }[]) => entries.map((entry) => entry.group);
    assert.deepEqual(groups(result.queued), [undefined, 'g1', 'g1']);
    assert.deepEqual(groups(await storage.readOutbox(0, 10)), [undefined, 'g1', 'g1']);
  });

  test(`${kind}: clear removes every record, outbox entry and cursor; later entries are read and sent as usual`, async () => {
    const storage = await open();
    await storage.commit([local('a', 1), remote(row('b', '2024-01-01T00:00:00.000Z'))], new Map([['todos', 5]]));
    const [before] = await storage.readOutbox(0, 10);
    await storage.clear();
    assert.deepEqual(await storage.getRecords('todos'), []);
    assert.equal(await storage.outboxSize(), 0);
    assert.deepEqual(await storage.readOutbox(0, 10), []);
    assert.equal(await storage.getCursor('todos'), 0);
    await storage.commit([local('c', 2)]);
    const after = await storage.readOutbox(0, 10);
    assert.deepEqual(after.map((entry) => entry.event.dataId), ['c']);
    assert.ok((after[0]?.key ?? 0) > (before?.key ?? 0), 'outbox keys keep growing: a late ack of a cleared entry removes nothing new');
  });

  test(`${kind}: a batch in a dense repository still merges against every current row`, async () => {
    const storage = await open();
    const ids = Array.from({ length: 40 }, (_, i) => `r${String(i).padStart(2, '0')}`);
    await storage.commit(ids.map((id) => remote(row(id, '2024-06-01T00:00:00.000Z'))));
    // Two records far apart: a bounded range read stops long before the second one.
    const older = [row('r00', '2024-01-01T00:00:00.000Z', 'old'), row('r39', '2024-01-01T00:00:00.000Z', 'old')];
    const written = await storage.commit([...older.map(remote), remote(row('s00', '2024-01-01T00:00:00.000Z'))]);
    assert.deepEqual(written.map((r) => r.id), ['s00'], 'older events lose to the stored rows, a new record is stored');
    assert.equal((await storage.getRecord('todos', 'r39'))?.data?.['title'], 'r39');
  });

  test(`${kind}: a delete keeps a tombstone that an older event loses to; rows come sorted by id, per repository`, async () => {
    const storage = await open();
    await storage.commit([remote(row('b', '2024-01-02T00:00:00.000Z')), remote(row('a', '2024-01-02T00:00:00.000Z'))]);
    await storage.commit([remote({ ...row('x', '2024-01-01T00:00:00.000Z'), repository: 'notes' })]);
    await storage.commit([remote(tombstone('b', '2024-01-03T00:00:00.000Z'))]);
    assert.deepEqual(await storage.commit([remote(row('b', '2024-01-02T12:00:00.000Z', 'late'))]), [], 'an older write loses to the delete');
    const rows = await storage.getRecords('todos');
    assert.deepEqual(rows.map((r) => [r.id, r.deleted]), [['a', false], ['b', true]]);
    assert.equal((await storage.getRecord('todos', 'b'))?.data, undefined);
    assert.deepEqual((await storage.getRecords('notes')).map((r) => r.id), ['x']);
  });

  test(`${kind}: changes of one commit see each other, and a commit that throws stores nothing`, async () => {
    const storage = await open();
    const seen: (RecordRow | undefined)[] = [];
    const twice: RecordChange = { repository: 'todos', id: 'a', decide: (current) => (seen.push(current), { row: row('a', '2024-01-05T00:00:00.000Z', 'second') }) };
    await storage.commit([remote(row('a', '2024-01-01T00:00:00.000Z')), twice]);
    assert.equal(seen[0]?.createdAt, '2024-01-01T00:00:00.000Z', 'the second change saw the first');

    const failing: RecordChange = { repository: 'todos', id: 'z', decide: () => { throw new Error('refused'); } };
    await assert.rejects(storage.commit([local('c', 1), failing], new Map([['todos', 9]])));
    assert.equal(await storage.getRecord('todos', 'c'), undefined);
    assert.equal(await storage.outboxSize(), 0);
    assert.equal(await storage.getCursor('todos'), 0);
  });

  test(`${kind}: cursors only move forward`, async () => {
    const storage = await open();
    assert.equal(await storage.getCursor('todos'), 0);
    await storage.commit([], new Map([['todos', 5]]));
    await storage.commit([], new Map([['todos', 3]]));
    assert.equal(await storage.getCursor('todos'), 5);
    assert.equal(await storage.getCursor('notes'), 0);
  });

  test(`${kind}: the outbox keeps insertion order with increasing keys, reads by key and limit, and forgets what is removed`, async () => {
    const storage = await open();
    await storage.commit([local('a', 1), local('b', 2)]);
    await storage.commit([local('c', 3)]);
    const all = await storage.readOutbox(0, 10);
    assert.deepEqual(all.map((e) => e.event.eventId), ['e1', 'e2', 'e3']);
    assert.ok(all.every((e, i) => i === 0 || e.key > all[i - 1]!.key), 'keys increase');
    assert.deepEqual((await storage.readOutbox(all[0]!.key, 1)).map((e) => e.event.eventId), ['e2']);
    assert.deepEqual(await storage.outboxHas(new Set(['e2', 'e9'])), new Set(['e2']));
    await storage.removeOutbox([all[0]!.key, all[1]!.key]);
    assert.equal(await storage.outboxSize(), 1);
    assert.deepEqual((await storage.readOutbox(0, 10)).map((e) => e.event.eventId), ['e3']);
    await storage.commit([local('d', 4)]);
    const [, last] = await storage.readOutbox(0, 10);
    assert.ok(last && last.key > all[2]!.key, 'a key is never reused');
  });
}
