/**
 * The hub's watches across a storage loss: a clear can fail a watch's first read before the
 * database reads as lost (Chromium aborts the read first, then closes the connection), so the
 * retry of ReplaceableStorage does not apply. The watch must stay, and get its list from the
 * reload on the fresh database (rewatchAll), else the tab watches nothing from then on.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { QueryUpdate, StoredRecord } from '../protocol/tab-api';
import { syncError } from '../worker/errors';
import { TabHub } from '../worker/runtime/hub';
import type { SendUpdate } from '../worker/runtime/queries';
import type { TabSession } from '../worker/runtime/tab-session';
import { RecordingLogger, RecordingTab } from './helpers/worker';

const session = { id: 'session' } as unknown as TabSession;
const todo = (id: string): StoredRecord => ({ id, title: id, done: false });
const row = (id: string) => ({ repository: 'todos', id, data: todo(id), deleted: false }) as never;

/** A hub over `stored`, whose next read fails as a read the clear aborted does. */
function hubFailingOnce(stored: StoredRecord[]) {
  let failNext = true;
  const logger = new RecordingLogger();
  const hub = new TabHub(async () => {
    if (failNext) {
      failNext = false;
      throw syncError('storage_failed', 'storage failed: Connection is closing because of: Force close delete origin');
    }
    return [...stored];
  }, logger);
  const tab = new RecordingTab();
  hub.attach(session, tab);
  return { hub, tab, logger };
}

test('a watch whose first read a storage loss failed gets its list from the reload on the fresh database, then every change', async () => {
  const stored: StoredRecord[] = [];
  const { hub, tab, logger } = hubFailingOnce(stored);
  await assert.rejects(hub.watch(session, 'todos'), { code: 'storage_failed' });
  assert.match(logger.warnings.join('\n'), /could not load todos records for a watcher: storage failed: Connection is closing/);
  // Until its list came, no change reaches it (it would apply to no list).
  hub.changed([row('early')]);
  assert.equal(tab.lists.length, 0);
  assert.deepEqual(hub.describe(), [{ id: 'session', watching: ['todos'] }]);

  stored.push(todo('early'), todo('fresh'));
  await hub.rewatchAll();
  assert.deepEqual(tab.lists.at(-1)?.records.map((r) => r.id), ['early', 'fresh']);
  hub.changed([row('later')]);
  assert.deepEqual(tab.lists.at(-1)?.records.map((r) => r.id), ['early', 'fresh', 'later']);

  hub.unwatch(session, 'todos');
  hub.changed([row('after-unwatch')]);
  await hub.rewatchAll();
  assert.equal(tab.lists.at(-1)?.records.length, 3);
});

test('a query watch whose first read a storage loss failed is started again by the reload; one with a bad query is not', async () => {
  const { hub } = hubFailingOnce([]);
  const sent: QueryUpdate[] = [];
  let starts = 0;
  const reading = async (send: SendUpdate) => {
    if (starts++ === 0) throw syncError('storage_failed', 'storage failed: the read was aborted');
    send({ window: [todo('a')], count: 1 });
    return () => {};
  };
  const tab = new RecordingTab();
  Object.assign(tab, { query: (_id: number, update: QueryUpdate) => sent.push(update) });
  hub.attach(session, tab);
  await assert.rejects(hub.watchQuery(session, 1, reading), { code: 'storage_failed' });
  let badStarts = 0;
  await assert.rejects(
    hub.watchQuery(session, 2, async () => {
      badStarts++;
      throw syncError('invalid_query', 'invalid query');
    }),
    { code: 'invalid_query' },
  );
  assert.deepEqual(sent, []);

  await hub.rewatchAll();
  assert.deepEqual(sent, [{ window: [todo('a')], count: 1 }]);
  assert.equal(badStarts, 1, 'the bad query is not run again');
});
