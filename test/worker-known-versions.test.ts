/** Writes without reads (storage/known-versions.ts): a database whose only writer knows its
 *  records' versions decides every commit exactly as one that reads each row first, over random
 *  histories of local writes, patches, remote events (new, stale, repeated), cursors and clears. */
import 'fake-indexeddb/auto';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deleteDB } from 'idb';
import { Operation, type SyncEvent } from '../protocol/messages';
import type { ConflictResolver } from '../worker/local/merge';
import { RemoteApplier } from '../worker/local/remote';
import { Repositories } from '../worker/local/repositories';
import { WriteQueue } from '../worker/local/writes';
import { openIdbStorage } from '../worker/storage/idb-store';
import type { SyncStorage } from '../worker/storage/storage';
import { ManualClock } from './helpers/manual-clock';
import { seeded as random } from './query-random';
import { RecordingLogger, TodoSchema, uniqueDatabaseName } from './helpers/worker';

/** One step of a history, the same for both databases. */
type Step =
  | { kind: 'upsert' | 'delete' | 'patch'; id: string; eventId: string; title: string }
  | { kind: 'remote'; events: SyncEvent[]; cursor: number | undefined }
  | { kind: 'clear' }
  /** Steps that run at once, not awaited one by one. */
  | { kind: 'burst'; steps: Step[] };

function history(seed: number, length: number): Step[] {
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const ids = ['a', 'b', 'c', 'd', 'e'];
  const seen: SyncEvent[] = [];
  let sequence = 0;
  let counter = 0;
  const one = (): Step => {
    const roll = next();
    const id = pick(ids);
    const eventId = `e${seed}x${++counter}`;
    if (roll < 0.25) return { kind: 'upsert', id, eventId, title: `t${counter}` };
    if (roll < 0.32) return { kind: 'delete', id, eventId, title: '' };
    if (roll < 0.4) return { kind: 'patch', id, eventId, title: `p${counter}` };
    if (roll < 0.42) return { kind: 'clear' };
    const events = Array.from({ length: 1 + Math.floor(next() * 3) }, (): SyncEvent => {
      if (seen.length > 0 && next() < 0.2) return pick(seen); // delivered again
      // Around the local clock: some older than the local writes, some newer.
      const createdAt = new Date(Date.UTC(2026, 0, 1) + Math.floor(next() * 4000) - 1000).toISOString();
      const dataId = pick(ids);
      const event: SyncEvent =
        next() < 0.2
          ? { eventId: `r${seed}x${++counter}`, dataId, operation: Operation.delete, createdAt }
          : { eventId: `r${seed}x${++counter}`, dataId, operation: Operation.update, createdAt, data: { id: dataId, title: `r${counter}`, done: next() < 0.5 } };
      seen.push(event);
      return event;
    });
    return { kind: 'remote', events, cursor: next() < 0.6 ? (sequence += events.length) : undefined };
  };
  return Array.from({ length }, () => (next() < 0.2 ? { kind: 'burst', steps: Array.from({ length: 2 + Math.floor(next() * 4) }, one) } : one()));
}

interface Replica {
  storage: SyncStorage;
  writes: WriteQueue;
  remote: RemoteApplier;
}

async function replica(clock: ManualClock, knows: boolean, resolveConflict?: ConflictResolver): Promise<Replica & { name: string }> {
  const name = uniqueDatabaseName();
  const storage = await openIdbStorage(name, { clock });
  // A record stored before the versions are loaded: its version is read once, then known.
  await storage.commit([{ repository: 'todos', id: 'a', decide: () => ({ row: { repository: 'todos', id: 'a', deleted: false, createdAt: '2026-01-01T00:00:00.500Z', eventId: 'seed', data: { id: 'a', title: 'seed', done: false } } }) }]);
  if (knows) await storage.knowVersions?.();
  const repositories = new Repositories({ todos: TodoSchema });
  const writes = new WriteQueue(storage, () => clock.now(), () => {});
  const remote = new RemoteApplier(repositories, storage, resolveConflict, () => {}, new RecordingLogger());
  return { name, storage, writes, remote };
}

async function run(step: Step, { storage, writes, remote }: Replica): Promise<void> {
  switch (step.kind) {
    case 'upsert':
      return writes.write('todos', step.id, { id: step.id, title: step.title, done: false }, step.eventId);
    case 'delete':
      return writes.write('todos', step.id, undefined, step.eventId);
    case 'patch':
      return writes.patch('todos', step.id, (current) => ({ ...(current?.data ?? { id: step.id, done: true }), title: step.title }), step.eventId);
    case 'remote':
      return remote.apply([{ repository: 'todos', events: step.events, cursor: step.cursor }]);
    case 'clear':
      return storage.clear();
    case 'burst':
      await Promise.all(step.steps.map((each) => run(each, { storage, writes, remote })));
  }
}

async function contents(storage: SyncStorage) {
  return { records: await storage.getRecords('todos'), outbox: (await storage.readOutbox(0, 10_000)).map((entry) => entry.event), cursor: await storage.getCursor('todos') };
}

async function compare(seed: number, resolveConflict?: ConflictResolver): Promise<number> {
  const steps = history(seed, 40);
  const clock = new ManualClock();
  const reading = await replica(clock, false, resolveConflict);
  const knowing = await replica(clock, true, resolveConflict);
  try {
    for (const step of steps) {
      await clock.advance(Math.floor(random(seed + steps.indexOf(step))() * 40));
      await Promise.all([run(step, reading), run(step, knowing)]);
    }
    const expected = await contents(reading.storage);
    assert.deepEqual(await contents(knowing.storage), expected, `seed ${seed}`);
    return knowing.storage.knownVersions?.()?.entries ?? -1;
  } finally {
    for (const { storage, name } of [reading, knowing]) {
      storage.close();
      await deleteDB(name);
    }
  }
}

test('a commit decided on the known versions stores what one decided on the rows read stores, over 150 random histories', async () => {
  const known: number[] = [];
  for (let seed = 1; seed <= 150; seed++) known.push(await compare(seed));
  // The versions were kept (and never more than the records there are), not silently dropped.
  assert.ok(known.every((entries) => entries >= 0 && entries <= 5), String(known));
  assert.ok(known.some((entries) => entries > 0));
});

test('with an app\'s conflict resolver (it reads the data), the known versions still decide alike', async () => {
  // Highest title wins: symmetric and deterministic, and blind to the merge order.
  const byTitle: ConflictResolver = (local, remote) => ((remote.data?.['title'] ?? '') > (local.data?.['title'] ?? '') ? remote : local);
  for (let seed = 1000; seed < 1040; seed++) await compare(seed, byTitle);
});

test('the known versions say how much they hold, and a clear empties them', async () => {
  const clock = new ManualClock();
  const { storage, writes, name } = await replica(clock, true);
  try {
    // The seeded record is known by its key only until a commit reads it.
    assert.deepEqual(storage.knownVersions?.(), { entries: 1, estimatedBytes: 200 + 2 * 'todos/a'.length });
    for (const id of ['x', 'y']) await writes.write('todos', id, { id, title: id, done: false });
    assert.equal(storage.knownVersions?.()?.entries, 3);
    await storage.clear();
    assert.equal(storage.knownVersions?.()?.entries, 0);
    storage.forgetVersions?.();
    assert.equal(storage.knownVersions?.(), undefined);
  } finally {
    storage.close();
    await deleteDB(name);
  }
});
