/**
 * The leader's sender and another runtime's write on the same outbox: the flake of
 * "two deployments on one schema version" (lifecycle-version.spec.ts). The other runtime's
 * notice (`queued()`, then a count, then `drain()`) can come while a pass of the sender is
 * reading the store from before that write; the pass then finds the store's end and says
 * "caught up", and the drain that follows the count returned at once: the write waited for the
 * next unrelated one. A notice during a pass must make the drain read again.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClientMessage, SyncEvent } from '../protocol/messages';
import { OutboxSender } from '../worker/outbox/outbox';
import type { OutboxEntry, SyncStorage } from '../worker/storage/storage';

function entry(key: number, repository = 'todos'): OutboxEntry {
  const event: SyncEvent = { eventId: `e${key}`, dataId: `d${key}`, operation: 0, createdAt: '2025-01-01T00:00:00.000Z', data: { id: `d${key}` } };
  return { key, repository, event };
}

/** A sender on a shared outbox, recording the eventIds it sends. */
function recordingSender(storage: SyncStorage): { sender: OutboxSender; sent: string[] } {
  const sent: string[] = [];
  const sender = new OutboxSender(storage, (message: ClientMessage) => {
    if (message.type === 'push_event') sent.push(message.event.eventId);
    if (message.type === 'push_events_batch') sent.push(...message.events.map((event) => event.eventId));
    return true;
  }, true);
  return { sender, sent };
}

/** A shared outbox whose reads answer when the test says, from the store as it was when asked. */
function heldOutbox() {
  const store = [entry(1)];
  const reads: (() => void)[] = [];
  const storage = {
    readOutbox: (afterKey: number) => {
      const snapshot = store.filter((e) => e.key > afterKey);
      return new Promise<OutboxEntry[]>((resolve) => reads.push(() => resolve(snapshot)));
    },
    removeOutbox: async () => {},
  } as unknown as SyncStorage;
  return { store, reads, storage };
}

/** Answers each read as it comes, until `done` settles. */
async function answerReads(reads: (() => void)[], done: Promise<void>): Promise<void> {
  let settled = false;
  void done.then(() => (settled = true));
  while (!settled) {
    reads.shift()?.();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

test("another runtime's write announced while a pass reads the store from before it is sent by the drain after the count", async () => {
  const { store, reads, storage } = heldOutbox();
  const { sender, sent } = recordingSender(storage);

  const passing = sender.drain(); // a pass reads the store: it holds entry 1 only
  assert.equal(reads.length, 1);
  store.push(entry(2)); // the other runtime commits entry 2 and announces it
  sender.queued(); // (Outbox.changed: queued, then the count, then drain)
  reads.shift()?.(); // the pass's read answers from before entry 2
  await answerReads(reads, passing);
  const afterCount = sender.drain(); // the count ended
  await answerReads(reads, afterCount);
  await afterCount;
  assert.deepEqual(sent, ['e1', 'e2'], 'the announced write went out');
});

test("once another runtime's write was announced, this runtime's own remembered writes no longer stand for the rest of the outbox", async () => {
  // Two frames fill the window (two repositories); then this runtime queues e3 (remembered, it
  // waits for the window), another runtime queues e4 and says so. The ack that frees the window
  // sends e3 from memory: that must not count as having reached the outbox's end.
  const store = [entry(1, 'todos'), entry(2, 'notes')];
  const storage = {
    readOutbox: async (afterKey: number) => store.filter((e) => e.key > afterKey),
    removeOutbox: async () => {},
  } as unknown as SyncStorage;
  const { sender, sent } = recordingSender(storage);
  await sender.drain();
  assert.deepEqual(sent, ['e1', 'e2'], 'the window is full');

  store.push(entry(3));
  sender.queued([entry(3)]); // this runtime's commit, as it returned it
  await sender.drain();
  store.push(entry(4));
  sender.queued(); // the other runtime's notice
  await sender.drain();
  for (const eventId of ['e1', 'e2', 'e3', 'e4']) {
    await sender.acknowledge([eventId]);
    await sender.drain(); // what an ack triggers
  }
  assert.deepEqual(sent, ['e1', 'e2', 'e3', 'e4'], "the other runtime's write went out");
});
