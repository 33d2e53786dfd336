/**
 * The hub's fan-out over a real SQLite store: a commit of this process that directly follows
 * what was delivered goes out as committed (no read of the log); anything else (a commit
 * announced without its events, as another instance's is, or one that arrives while a read
 * of the log runs) is read back from the log, and every event reaches every subscriber once,
 * in order.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { MAX_PAGE_BYTES, type SequencedEvent } from '../protocol';
import { Hub, type Subscriber } from '../server/broadcast';
import { createLogger } from '../server/log';
import type { AppendedListener, EventStore } from '../server/store/event-store';
import { openSqliteStore } from '../server/store/sqlite';
import { makeEvent } from './store-contract';
import { waitFor } from './helpers/wait';

/** The store, with its log reads counted and, while `holdReads` is set, held back; while
 *  `muted`, its commits reach no listener (as another instance's, until announced). */
function observed(store: EventStore) {
  const listeners = new Set<AppendedListener>();
  const state = { logReads: 0, holdReads: undefined as Promise<void> | undefined, muted: false };
  store.onAppended((commit) => {
    if (!state.muted) for (const listener of listeners) listener(commit);
  });
  const wrapped: EventStore = {
    ...store,
    async readLog(namespace, afterSequence, limit) {
      state.logReads++;
      await state.holdReads;
      return store.readLog(namespace, afterSequence, limit);
    },
    onAppended(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  /** Announces a commit without its events, as a notification from another instance does. */
  const announce = (namespace: string, maxSequence: number) => {
    for (const listener of listeners) listener({ namespace, maxSequence });
  };
  return { store: wrapped, state, announce };
}

function subscriber(id: string) {
  const received: SequencedEvent[] = [];
  const frameBytes: number[] = [];
  const deliver = (frame: Buffer) => {
    const text = String(frame);
    frameBytes.push(Buffer.byteLength(text));
    received.push(...(JSON.parse(text) as { events: SequencedEvent[] }).events);
  };
  return { id, received, frameBytes, deliver } satisfies Subscriber & { received: SequencedEvent[]; frameBytes: number[] };
}

async function until(condition: () => boolean): Promise<void> {
  await waitFor(condition, 'the broadcast');
}

describe('broadcast hub', () => {
  let dir: string;
  let base: EventStore;
  let hub: Hub;
  let store: ReturnType<typeof observed>;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tabsync-hub-'));
    base = openSqliteStore(join(dir, 'sync.db'));
    store = observed(base);
    hub = new Hub(store.store, createLogger('silent'), MAX_PAGE_BYTES);
  });
  afterEach(async () => {
    hub.close();
    await base.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends a commit that follows the last delivery as committed, without reading the log', async () => {
    await store.store.append('ns', 'todos', [makeEvent('before', 1)]);
    const sender = subscriber('sender');
    const other = subscriber('other');
    await hub.join('ns', sender);
    await hub.join('ns', other);
    for (let i = 0; i < 5; i++) {
      await store.store.append('ns', 'todos', [makeEvent(`r${i}`, 10 + i)], { origin: sender.id });
    }
    assert.deepEqual(other.received.map((e) => e.dataId), ['r0', 'r1', 'r2', 'r3', 'r4']);
    assert.deepEqual(other.received.map((e) => e.serverSequence), [2, 3, 4, 5, 6]);
    assert.equal(sender.received.length, 0, 'no echo to the sender');
    assert.equal(store.state.logReads, 0);
  });

  it('reads the log for a commit announced without its events, and for commits that arrive while it reads', async () => {
    const other = subscriber('other');
    await hub.join('ns', other);
    let release = () => {};
    store.state.holdReads = new Promise((resolve) => (release = resolve));
    // Another instance's commit: known only by its sequence, so the hub reads the log.
    store.state.muted = true;
    await store.store.append('ns', 'todos', [makeEvent('elsewhere', 1)]);
    store.state.muted = false;
    store.announce('ns', 1);
    // While that read is held, this process commits twice: both follow the read, not the delivery.
    const sender = subscriber('sender');
    await hub.join('ns', sender);
    await store.store.append('ns', 'todos', [makeEvent('a', 2)], { origin: sender.id });
    await store.store.append('ns', 'todos', [makeEvent('b', 3)]);
    assert.equal(other.received.length, 0, 'nothing overtakes the read that is running');
    release();
    await until(() => other.received.length >= 3);
    assert.deepEqual(sender.received.map((e) => e.dataId), ['elsewhere', 'b'], 'read back from the log, its own event is still not echoed');
    // Back in step: the next commit goes out directly again.
    const reads = store.state.logReads;
    await store.store.append('ns', 'todos', [makeEvent('c', 4)]);
    assert.deepEqual(other.received.map((e) => e.dataId), ['elsewhere', 'a', 'b', 'c']);
    assert.deepEqual(other.received.map((e) => e.serverSequence), [1, 2, 3, 4]);
    assert.equal(store.state.logReads, reads, 'no read once every commit was delivered');
  });

  it('cuts a large commit into frames of at most the bound, every event once, in order', async () => {
    const maxFrameBytes = 32 * 1024;
    const small = new Hub(store.store, createLogger('silent'), maxFrameBytes);
    try {
      const other = subscriber('other');
      const sender = subscriber('sender');
      await small.join('ns', other);
      await small.join('ns', sender);
      const events = Array.from({ length: 20 }, (_, i) => makeEvent(`big${i}`, i, { data: { blob: 'x'.repeat(5000) } }));
      await Promise.all([
        store.store.append('ns', 'todos', events.slice(0, 1), { origin: sender.id }),
        store.store.append('ns', 'todos', events.slice(1), { origin: 'server' }),
      ]);
      assert.ok(other.frameBytes.length > 1, 'several frames');
      for (const bytes of [...other.frameBytes, ...sender.frameBytes]) assert.ok(bytes <= maxFrameBytes, `${bytes} bytes within the bound`);
      assert.deepEqual(other.received.map((e) => e.serverSequence), Array.from({ length: 20 }, (_, i) => i + 1));
      assert.deepEqual(sender.received.map((e) => e.serverSequence), Array.from({ length: 19 }, (_, i) => i + 2), 'all but its own');
    } finally {
      small.close();
    }
  });
});
