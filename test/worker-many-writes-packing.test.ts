/** Packing the outbox into push frames keeps each many-write's entries (one `group`) together. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SyncEvent } from '../protocol/messages';
import { packBatches, withoutCutGroup } from '../worker/outbox/outbox';
import { MemoryStorage } from '../worker/storage/memory-store';
import { ReplaceableStorage } from '../worker/storage/replaceable-storage';
import type { OutboxEntry, RecordChange, RecordRow } from '../worker/storage/storage';

function entry(key: number, group?: string, repository = 'a', size = 10): OutboxEntry {
  const event: SyncEvent = { eventId: `e${key}`, dataId: `d${key}`, operation: 0, createdAt: '2025-01-01T00:00:00.000Z', data: { id: `d${key}`, body: 'x'.repeat(size) } };
  return group === undefined ? { key, repository, event } : { key, repository, event, group };
}
const keys = (entries: readonly OutboxEntry[]) => entries.map((e) => e.key);
const packed = (entries: readonly OutboxEntry[], maxEvents: number, maxBytes?: number) => packBatches(entries, maxEvents, maxBytes).map((b) => keys(b.entries));

test('a group goes in one frame: it starts a new one rather than straddle two', () => {
  const entries = [entry(1), entry(2, 'g'), entry(3, 'g'), entry(4, 'g'), entry(5)];
  assert.deepEqual(packed(entries, 3), [[1], [2, 3, 4], [5]]);
  assert.deepEqual(packed(entries, 4), [[1, 2, 3, 4], [5]]);
  // Two adjacent groups are two units; single entries still fill frames as before.
  assert.deepEqual(packed([entry(1, 'g'), entry(2, 'g'), entry(3, 'h'), entry(4, 'h')], 3), [[1, 2], [3, 4]]);
  assert.deepEqual(packed([entry(1), entry(2), entry(3)], 2), [[1, 2], [3]]);
});

test('a group larger than a frame (the server takes less than when it was written) is cut as single entries are', () => {
  const entries = [entry(1, 'g', 'a', 600), entry(2, 'g', 'a', 600), entry(3, 'g', 'a', 600)];
  assert.deepEqual(packed(entries, 500, 1500), [[1, 2], [3]]);
  assert.deepEqual(packed([entry(1, 'g'), entry(2, 'g'), entry(3, 'g')], 2), [[1, 2], [3]]);
});

test('a read that ends inside a group leaves the group for the next read, unless the group is all it holds', () => {
  assert.deepEqual(keys(withoutCutGroup([entry(1), entry(2, 'g'), entry(3, 'g')])), [1]);
  assert.deepEqual(keys(withoutCutGroup([entry(1, 'f'), entry(2, 'g')])), [1]);
  assert.deepEqual(keys(withoutCutGroup([entry(1, 'g'), entry(2)])), [1, 2]);
  assert.deepEqual(keys(withoutCutGroup([entry(1, 'g'), entry(2, 'g')])), [1, 2]);
  assert.deepEqual(keys(withoutCutGroup([])), []);
});

test('after a storage loss a many-write is queued again as one group, its events together', async () => {
  const storage = new ReplaceableStorage(new MemoryStorage(), () => {});
  const at = (second: number) => `2024-01-01T00:00:0${second}.000Z`;
  const write = (id: string, second: number, group?: string): RecordChange => {
    const event: SyncEvent = { eventId: `e-${id}`, dataId: id, operation: 0, createdAt: at(second), data: { id } };
    const row: RecordRow = { repository: 'a', id, data: { id }, deleted: false, createdAt: at(second), eventId: event.eventId };
    return { repository: 'a', id, decide: () => ({ row, push: event, ...(group !== undefined && { group }) }) };
  };
  // By the events' own order a single write falls between the group's two.
  await storage.commit([write('g1', 1, 'g'), write('g2', 3, 'g')]);
  await storage.commit([write('s', 2)]);
  const survivors = storage.lose();
  assert.deepEqual(survivors.map((s) => [s.event.dataId, s.group]), [['g1', 'g'], ['g2', 'g'], ['s', undefined]]);
  const fresh = new MemoryStorage();
  storage.replace(fresh);
  await storage.requeue(survivors);
  const requeued = await fresh.readOutbox(0, 10);
  assert.deepEqual(requeued.map((e) => [e.event.dataId, e.group]), [['g1', 'g'], ['g2', 'g'], ['s', undefined]]);
  assert.deepEqual(packed(requeued, 2), [[1, 2], [3]]);
});
