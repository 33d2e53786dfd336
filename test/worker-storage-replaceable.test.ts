/**
 * The storage the runtime's parts hold while databases come and go: calls wait for the fresh one,
 * a call failed by the loss runs again there without its cursors, acknowledgements of the lost
 * outbox stay with it, and the unacknowledged events it saw come back for re-queueing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStorage } from '../worker/storage/memory-store';
import { ReplaceableStorage } from '../worker/storage/replaceable-storage';
import type { RecordChange } from '../worker/storage/storage';
import { local, remote, row } from './worker-storage-contract';

/** A memory store that can be taken away like a database: closed under its user. */
class LosableStorage extends MemoryStorage {
  gone = false;
  isGone(): boolean {
    return this.gone;
  }
}

test('a commit during a swap, or failed by the loss, runs on the fresh database without its cursors', async () => {
  const old = new LosableStorage();
  let announced = 0;
  // As the runtime does when told: let go at once, and open a fresh one.
  const storage: ReplaceableStorage = new ReplaceableStorage(old, () => {
    announced++;
    storage.lose();
  });

  // Taken away without notice: the failed commit announces it, then waits for the fresh one.
  old.gone = true;
  old.close();
  const failed = storage.commit([remote(row('a', '2024-01-01T00:00:00.000Z'))], new Map([['todos', 7]]));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(announced, 1);
  const waiting = storage.commit([remote(row('b', '2024-01-01T00:00:00.000Z'))], new Map([['todos', 9]]));
  const fresh = new MemoryStorage();
  storage.replace(fresh);
  await Promise.all([failed, waiting]);
  assert.deepEqual((await fresh.getRecords('todos')).map((r) => r.id), ['a', 'b'], 'their records are kept');
  assert.equal(await fresh.getCursor('todos'), 0, 'their cursors belonged to the lost database');

  // From now on, cursors are written again.
  await storage.commit([], new Map([['todos', 3]]));
  assert.equal(await fresh.getCursor('todos'), 3);
});

test('the unacknowledged events come back from a loss, and are queued again with their eventIds', async () => {
  const old = new MemoryStorage();
  const storage = new ReplaceableStorage(old, () => {});
  await storage.commit([local('a', 1), local('b', 2)]);
  await storage.commit([local('c', 3)]);
  const sent = await storage.readOutbox(0, 2); // e1, e2 sent; e1 acknowledged
  await storage.removeOutbox([sent[0]!.key]);

  const survivors = storage.lose();
  assert.deepEqual(survivors.map((s) => s.event.eventId), ['e2', 'e3']);
  // An ack of the lost database arriving late is not applied to the fresh one.
  const lateAck = storage.removeOutbox([sent[1]!.key]);
  const fresh = new MemoryStorage();
  storage.replace(fresh);
  await lateAck;
  await fresh.commit([local('x', 9)]); // key 1 of the fresh outbox, the same number as the acked e1
  await storage.removeOutbox([]);
  assert.equal(await storage.requeue(survivors), 2);
  assert.deepEqual((await fresh.readOutbox(0, 10)).map((e) => e.event.eventId), ['e9', 'e2', 'e3']);
  assert.deepEqual((await fresh.getRecords('todos')).map((r) => [r.id, r.eventId]), [
    ['b', 'e2'],
    ['c', 'e3'],
    ['x', 'x-2024-01-01T00:00:00.000Z'],
  ]);
  // The re-queued events are known again, should the fresh database go too.
  assert.deepEqual(storage.lose().map((s) => s.event.eventId), ['e2', 'e3']);
});

test('what it remembers for a loss is bounded in data too: large records written offline drop the oldest first', async () => {
  const storage = new ReplaceableStorage(new MemoryStorage(), () => {});
  const large = (n: number): RecordChange => {
    const change = local(`big${n}`, n);
    return {
      ...change,
      decide: (current) => {
        const decision = change.decide(current);
        return decision?.push ? { ...decision, push: { ...decision.push, data: { id: `big${n}`, blob: 'x'.repeat(1024 * 1024) } } } : decision;
      },
    };
  };
  for (let n = 1; n <= 24; n++) await storage.commit([large(n)]);
  const survivors = storage.lose().map((s) => s.event.eventId);
  assert.ok(survivors.length >= 10 && survivors.length < 24, `some, not all 24 MiB, are remembered (${survivors.length})`);
  assert.equal(survivors.at(-1), 'e24', 'the newest are kept');
});
