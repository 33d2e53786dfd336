/** The worker's pure parts: reconnect delays and outbox packing. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SyncEvent } from '../protocol/messages';
import { reconnectDelay } from '../worker/sync/backoff';
import type { ClientMessage } from '../protocol/messages';
import { OutboxSender, packBatches, pushMessage } from '../worker/outbox/outbox';
import type { OutboxEntry, SyncStorage } from '../worker/storage/storage';

test('reconnect delays double from the base up to the cap, jittered within the upper half', () => {
  const lowest = (attempt: number) => reconnectDelay(attempt, 3000, 30_000, () => 0);
  const highest = (attempt: number) => reconnectDelay(attempt, 3000, 30_000, () => 0.999999);
  assert.deepEqual([0, 1, 2, 3, 4, 10, 1000].map(lowest), [1500, 3000, 6000, 12_000, 15_000, 15_000, 15_000]);
  assert.ok(Math.abs(highest(0) - 3000) < 1);
  assert.ok(highest(1000) <= 30_000);
});

function entry(key: number, repository: string, size = 10): OutboxEntry {
  const event: SyncEvent = { eventId: `e${key}`, dataId: `d${key}`, operation: 0, createdAt: '2025-01-01T00:00:00.000Z', data: { id: `d${key}`, body: 'x'.repeat(size) } };
  return { key, repository, event };
}

test('outbox entries are packed in order into runs of one repository, bounded in events and bytes', () => {
  const entries = [entry(1, 'a'), entry(2, 'a'), entry(3, 'a'), entry(4, 'b'), entry(5, 'a')];
  assert.deepEqual(packBatches(entries, 2).map((b) => [b.repository, b.entries.map((e) => e.key)]), [
    ['a', [1, 2]],
    ['a', [3]],
    ['b', [4]],
    ['a', [5]],
  ]);
  const large = [entry(1, 'a', 600), entry(2, 'a', 600), entry(3, 'a', 600)];
  assert.deepEqual(packBatches(large, 500, 1500).map((b) => b.entries.length), [2, 1]);
});

test('one event goes as push_event, several as push_events_batch', () => {
  const [one, two] = [entry(1, 'a').event, entry(2, 'a').event];
  assert.deepEqual(pushMessage('a', [one]), { type: 'push_event', repository: 'a', event: one });
  assert.deepEqual(pushMessage('a', [one, two]), { type: 'push_events_batch', repository: 'a', events: [one, two] });
});

/** An outbox holding one entry, counting its reads. */
function countedOutbox() {
  const counted = { entries: [entry(1, 'todos')], reads: 0 };
  const storage = {
    readOutbox: async (afterKey: number) => (counted.reads++, counted.entries.filter((e) => e.key > afterKey)),
    removeOutbox: async () => {},
  } as unknown as SyncStorage;
  return { counted, storage };
}

test('once everything queued was sent, drains read the outbox again only after something is queued', async () => {
  const { counted, storage } = countedOutbox();
  const sent: ClientMessage[] = [];
  const sender = new OutboxSender(storage, (message) => (sent.push(message), true));
  await sender.drain();
  assert.equal(counted.reads, 1, 'one read: it returned fewer than asked for, so there is nothing more');
  assert.equal(await sender.acknowledge([entry(1, 'todos').event.eventId]), 1);
  await sender.drain(); // what an ack triggers
  assert.equal(counted.reads, 1, 'nothing was queued since: no read');
  counted.entries.push(entry(2, 'todos'));
  sender.queued();
  await sender.drain();
  assert.equal(counted.reads, 2);
  assert.deepEqual(sent.map((m) => m.type === 'push_event' && m.event.dataId), [entry(1, 'todos').event.dataId, entry(2, 'todos').event.dataId]);
  sender.reset(); // a new session sends everything unacknowledged again: it reads
  await sender.drain();
  assert.equal(counted.reads, 3);
});

test('with other writers on the same outbox, memory stands for the rest only once a read of the store found its end in the session', async () => {
  // This runtime remembers the entry it queued (key 1); the store also holds key 2, queued by
  // the leader it took over from, whose notice came before this session began.
  const own = [entry(1, 'todos')];
  const store = [entry(1, 'todos'), entry(2, 'todos')];
  let reads = 0;
  const storage = {
    readOutbox: async (afterKey: number) => (reads++, store.filter((e) => e.key > afterKey)),
    removeOutbox: async () => {},
  } as unknown as SyncStorage;
  const sent: string[] = [];
  const sender = new OutboxSender(storage, (message) => {
    if (message.type === 'push_event') sent.push(message.event.eventId);
    if (message.type === 'push_events_batch') sent.push(...message.events.map((event) => event.eventId));
    return true;
  }, true);
  sender.queued(own); // as this runtime's commit returned it
  const ids = (...keys: number[]) => keys.map((key) => entry(key, 'todos').event.eventId);

  await sender.drain();
  assert.deepEqual(sent, ids(1, 2), 'what memory held did not stand for everything: the store was read on');
  assert.equal(reads, 1);
  for (const key of [1, 2]) await sender.acknowledge(ids(key));
  await sender.drain(); // what an ack triggers
  assert.equal(reads, 1, 'the store was read to its end and nothing was announced since: no read');

  store.push(entry(3, 'todos'));
  sender.queued(); // another runtime's notice
  await sender.drain();
  assert.deepEqual(sent, ids(1, 2, 3));
  assert.equal(reads, 2);

  sender.reset(); // a new session: memory is partial again until the store is read
  await sender.drain();
  assert.deepEqual(sent.slice(3), ids(1, 2, 3), 'the new session sent everything unacknowledged again');
});

test('a drain asked for by a new session while the old one is still reading the outbox is not lost', async () => {
  const reads: (() => void)[] = [];
  let readAsked = () => {};
  const nextRead = () => new Promise<void>((resolve) => (readAsked = resolve));
  const storage = {
    readOutbox: (afterKey: number) =>
      new Promise<OutboxEntry[]>((resolve) => {
        reads.push(() => resolve(afterKey < 1 ? [entry(1, 'todos')] : []));
        readAsked();
      }),
  } as unknown as SyncStorage;
  const sent: ClientMessage[] = [];
  const sender = new OutboxSender(storage, (message) => (sent.push(message), true));
  const first = sender.drain(); // the old session starts reading
  sender.reset(); // the socket dropped and a new session began
  const second = sender.drain(); // the new session asks while the old read is pending
  const asked = nextRead();
  reads.shift()?.(); // the old read returns: its session is gone, it sends nothing
  await asked;
  reads.shift()?.(); // the new session's own read: fewer than asked for, so there is nothing more
  await Promise.all([first, second]);
  assert.equal(sent.length, 1, 'the new session sent the entry');
  assert.equal(sent[0]?.type, 'push_event');
});

test('what a commit returned goes out without a read; after the storage is replaced it is forgotten, and the store is read', async () => {
  const { counted, storage } = countedOutbox();
  const sent: string[] = [];
  const sender = new OutboxSender(storage, (message) => (message.type === 'push_event' && sent.push(message.event.eventId), true));
  sender.queued([entry(1, 'todos')]);
  await sender.drain();
  assert.deepEqual(sent, ['e1']);
  assert.equal(counted.reads, 0, 'the entry the commit returned was sent from memory');

  // The storage was emptied and holds another entry under key 1 now (a fresh database).
  const fresh = entry(1, 'todos');
  fresh.event = { ...fresh.event, eventId: 'fresh-1' };
  counted.entries = [fresh];
  sender.forget();
  sender.reset();
  await sender.drain();
  assert.deepEqual(sent, ['e1', 'fresh-1'], 'nothing remembered of the old storage was sent');
  assert.equal(counted.reads, 1);
});
