/**
 * A batch through the fan-out's parts over a real SQLite store: sharing a group commit with
 * single-repository pushes, it still goes as one events_batch frame (by repository to a client
 * that does not take batches, and when it is too large for one frame); read back from the log (a
 * commit heard out of step), it is handed on whole, with its marker, even when a page of the log
 * ends inside it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ServerMessage } from '../protocol';
import { Hub, type Subscriber } from '../server/broadcast';
import { CommitStream } from '../server/commit-stream';
import { createLogger } from '../server/log';
import type { Commit, EventStore, LoggedEvent } from '../server/store/event-store';
import { openSqliteStore } from '../server/store/sqlite';
import { makeEvent } from './store-contract';

/** CommitStream's page of the log. */
const LOG_PAGE = 1000;

describe('a batch read back from the log', () => {
  let dir: string;
  let store: EventStore;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tabsync-batch-stream-'));
    store = openSqliteStore(join(dir, 'sync.db'));
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A subscriber that keeps each frame it is sent, as `type:repository,…:events`. */
  function subscriber(id: string, takesBatches: boolean) {
    const frames: string[] = [];
    const deliver = (frame: Buffer) => {
    const text = String(frame);
      const message = JSON.parse(text) as ServerMessage;
      if (message.type === 'events') frames.push(`events:${message.repository}:${message.events.length}`);
      else if (message.type === 'events_batch') frames.push(`events_batch:${message.repositories.map((p) => p.repository).join(',')}:${message.repositories.flatMap((p) => p.events).length}`);
    };
    return { id, takesBatches, frames, deliver } satisfies Subscriber & { frames: string[] };
  }

  async function sharedCommit(namespace: string, maxFrameBytes: number) {
    const hub = new Hub(store, createLogger('silent', () => {}), maxFrameBytes);
    const taker = subscriber('taker', true);
    const old = subscriber('old', false);
    await hub.join(namespace, taker);
    await hub.join(namespace, old);
    const batch = ['todos', 'lists'].map((repository) => ({ repository, events: [makeEvent(`${repository}-b1`, 1), makeEvent(`${repository}-b2`, 2)] }));
    // Started together: the group-commit queue puts them in one or two transactions.
    await Promise.all([
      store.append(namespace, 'todos', [makeEvent('before', 1)], { origin: 'a' }),
      store.appendBatch(namespace, batch, { origin: 'b' }),
      store.append(namespace, 'notes', [makeEvent('after', 1)], { origin: 'c' }),
    ]);
    hub.close();
    return { taker: taker.frames, old: old.frames };
  }

  it('sends a batch that shared a group commit as one events_batch frame, the pushes around it as events frames', async () => {
    const { taker, old } = await sharedCommit('shared', 1024 * 1024);
    assert.deepEqual([...taker].sort(), ['events:notes:1', 'events:todos:1', 'events_batch:todos,lists:4']);
    assert.deepEqual([...old].sort(), ['events:lists:2', 'events:notes:1', 'events:todos:1', 'events:todos:2'], 'by repository to a client that does not take batches');
  });

  it('sends a batch too large for one frame by repository, even to a client that takes batches', async () => {
    const { taker } = await sharedCommit('small-frames', 700);
    assert.ok(!taker.some((frame) => frame.startsWith('events_batch')), taker.join(' '));
    assert.deepEqual(taker.filter((frame) => frame.endsWith(':2')).sort(), ['events:lists:2', 'events:todos:2']);
  });

  it('is handed on whole, marked, when a page of the log ends inside it', async () => {
    const before = LOG_PAGE - 10;
    await store.append('ns', 'todos', Array.from({ length: before }, (_, i) => makeEvent(`t${i}`, i)));
    const heard: Commit[] = [];
    const stop = store.onAppended((commit) => void heard.push(commit));
    const parts = ['todos', 'lists'].map((repository) => ({ repository, events: Array.from({ length: 10 }, (_, i) => makeEvent(`${repository}${i}`, i)) }));
    await store.appendBatch('ns', parts, { origin: 'conn-a' });
    stop();

    const handedOn: LoggedEvent[][] = [];
    const done = new Promise<void>((resolve) => {
      const stream = new CommitStream({
        namespace: 'ns',
        store,
        log: createLogger('silent', () => {}),
        what: 'test',
        handOn: (events) => {
          handedOn.push([...events]);
          if (events.at(-1)?.event.serverSequence === before + 20) resolve();
        },
      });
      stream.startAfter(0);
      // Heard out of step (nothing before it was handed on): read back from the log.
      stream.heard(heard[0]!);
    });
    await done;
    assert.deepEqual(handedOn.map((events) => events.length), [before, 20], 'the page that would end inside the batch stops before it');
    const batch = handedOn[1]!;
    assert.equal(new Set(batch.map((e) => e.batch)).size, 1);
    assert.equal(typeof batch[0]!.batch, 'number', 'read back with its batch marker');
    assert.deepEqual(new Set(batch.map((e) => e.origin)), new Set(['conn-a']), 'and its origin');
    assert.deepEqual(handedOn[0]!.filter((e) => e.batch !== undefined), []);
  });
});
