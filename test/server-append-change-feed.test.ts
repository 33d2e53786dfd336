/**
 * The change feed's order over a real SQLite store whose notifications the test hands in, as
 * another instance's arrive: coalesced, late, out of order, or re-announced without a range.
 * Every committed event is reported once; a commit of this process carries its origin.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ChangeFeed, type CommittedEvents } from '../server/change-feed';
import type { AppendedListener, Commit, EventStore } from '../server/store/event-store';
import { openSqliteStore } from '../server/store/sqlite';
import { waitFor } from './helpers/wait';
import { keptLog, makeEvent } from './store-contract';

/** The store, its own notifications held back while `muted` (as another instance's commits are). */
function controlled(store: EventStore) {
  const listeners = new Set<AppendedListener>();
  const state = { muted: false };
  store.onAppended((commit) => {
    if (!state.muted) for (const listener of listeners) listener(commit);
  });
  const wrapped: EventStore = {
    ...store,
    onAppended(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
  const announce = (commit: Commit) => {
    for (const listener of listeners) listener(commit);
  };
  return { store: wrapped, state, announce };
}

describe('change feed', () => {
  let dir: string;
  let base: EventStore;
  let store: ReturnType<typeof controlled>;
  let feed: ChangeFeed;
  const log = keptLog();
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tabsync-feed-'));
    base = openSqliteStore(join(dir, 'sync.db'));
    store = controlled(base);
    feed = new ChangeFeed(store.store, log.log);
  });
  afterEach(async () => {
    feed.close();
    await base.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const sequences = (heard: readonly CommittedEvents[]) => heard.flatMap((c) => c.events.map((e) => e.event.serverSequence));

  it('reports every event once when notifications come late, out of order, coalesced or without a range', async () => {
    const heard: CommittedEvents[] = [];
    feed.subscribe((committed) => void heard.push(committed));
    store.state.muted = true;
    await store.store.append('ns', 'todos', [makeEvent('a', 1), makeEvent('b', 2)]);
    await store.store.append('ns', 'todos', [makeEvent('c', 3)]);
    await store.store.append('ns', 'notes', [makeEvent('d', 4)]);
    store.state.muted = false;

    // The later commits' notification arrives first: the feed starts there...
    store.announce({ namespace: 'ns', maxSequence: 4, firstSequence: 3 });
    await waitFor(() => sequences(heard).length === 2, 'the first notification read back');
    // ...and the earlier commit's, arriving after, is still reported.
    store.announce({ namespace: 'ns', maxSequence: 2, firstSequence: 1 });
    await waitFor(() => sequences(heard).length === 4, 'the late notification read back');
    // Re-announcements after a LISTEN outage name no range: nothing again, nothing invented.
    store.announce({ namespace: 'ns', maxSequence: 4 });
    store.announce({ namespace: 'never-seen', maxSequence: 9 });
    // A commit of this process goes on as committed, with its origin.
    const [own] = await store.store.append('ns', 'todos', [makeEvent('e', 5)], { origin: 'server' });

    await waitFor(() => sequences(heard).length === 5, 'the own commit');
    assert.deepEqual(sequences(heard), [3, 4, 1, 2, 5]);
    assert.deepEqual(heard.at(-1), { namespace: 'ns', events: [{ repository: 'todos', event: own!.event, origin: 'server' }] });
    assert.deepEqual(heard.flatMap((c) => c.events.map((e) => e.repository)), ['todos', 'notes', 'todos', 'todos', 'todos']);
    assert.deepEqual(new Set(heard.map((c) => c.namespace)), new Set(['ns']));
  });

  it('listens to the store only while it has listeners', async () => {
    const heard: CommittedEvents[] = [];
    const stop = feed.subscribe((committed) => void heard.push(committed));
    await store.store.append('ns', 'todos', [makeEvent('a', 1)]);
    stop();
    await store.store.append('ns', 'todos', [makeEvent('b', 2)]);
    assert.deepEqual(sequences(heard), [1]);
    // Subscribed again, it starts from the next commit it hears of.
    feed.subscribe((committed) => void heard.push(committed));
    await store.store.append('ns', 'todos', [makeEvent('c', 3)]);
    assert.deepEqual(sequences(heard), [1, 3]);
    assert.throws(() => feed.subscribe('not a function' as never), /onCommitted takes a function/);
  });
});
