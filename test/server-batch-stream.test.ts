/**
 * A batch read back from the log (a commit heard out of step, so CommitStream reads it back in
 * pages) is handed on whole, with its batch marker, even when a page of the log ends inside it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
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
