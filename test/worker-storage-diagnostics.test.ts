/**
 * What the worker tells about itself and its storage: the full diagnostics, persistent storage
 * asked of one tab once, and the worker's warnings forwarded to tabs. A real server on loopback.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterEach, test } from 'node:test';
import { deleteDB } from 'idb';
import { RUNTIME_VERSION } from '../worker/config';
import { TestServers } from './helpers/server';
import { grantingStorage } from './helpers/storage-manager';
import { ManualClock } from './helpers/manual-clock';
import { reactionsRun, RecordingTab, settled, TestCores, waitFor } from './helpers/worker';

const servers = new TestServers();
const cores = new TestCores();

afterEach(async () => {
  await cores.closeAll();
  await servers.stopAll();
});

test('the runtime version is the package version', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(RUNTIME_VERSION, pkg.version);
});

test('diagnostics: every field, the outbox age while a write waits, repositories after a catch-up', async () => {
  const s = await servers.start();
  const other = await cores.open(s.syncUrl);
  await other.api.start();
  await settled(other);
  await other.api.upsert('todos', { id: 'x', title: 'x', done: false });
  await other.api.upsert('todos', { id: 'y', title: 'y', done: false });
  await other.api.delete('todos', 'y');
  await settled(other, 'the writes to be acked');

  const clock = new ManualClock();
  const c = await cores.open(s.syncUrl, { clock });
  await c.tab('tab').attach(new RecordingTab());
  const empty = await c.api.diagnostics();
  assert.equal(empty.worker.version, RUNTIME_VERSION);
  assert.equal(empty.worker.mode, 'shared');
  assert.deepEqual(empty.outbox, { pending: 0, oldestAgeMs: null, setAside: [] });
  // Node has no navigator.storage: persistence unknown, no estimate.
  // No server named a namespace yet: the data is the base database's.
  assert.deepEqual(empty.storage, { mode: 'indexeddb', persisted: 'unknown', losses: 0, namespace: null, database: c.databaseName });
  assert.deepEqual(empty.repositories, { todos: { records: 0, cursor: 0 } });
  assert.deepEqual(empty.tabs, [{ id: 'tab', watching: [] }]);

  // Offline, a write waits: its age grows from its createdAt.
  await c.api.upsert('todos', { id: 'local', title: 'l', done: false });
  await clock.advance(30);
  const waiting = await c.api.diagnostics();
  assert.equal(waiting.outbox.pending, 1);
  assert.ok(waiting.outbox.oldestAgeMs !== null && waiting.outbox.oldestAgeMs >= 30, `oldestAgeMs ${waiting.outbox.oldestAgeMs}`);

  const startedAt = new Date(clock.now()).toISOString();
  await c.api.start();
  await settled(c);
  const synced = await c.api.diagnostics();
  assert.deepEqual(synced.outbox, { pending: 0, oldestAgeMs: null, setAside: [] });
  const todos = synced.repositories['todos'];
  assert.equal(todos?.records, 2, 'x and local; the deleted y is not counted');
  assert.equal(todos?.cursor, 3, 'x, y and its delete');
  assert.ok(todos?.lastSyncAt !== undefined && todos.lastSyncAt >= startedAt, `lastSyncAt ${todos?.lastSyncAt}`);
  assert.equal(synced.connection.state, 'connected');
});

test('persistent storage is asked of one tab, once; a tab that fails to answer passes the question on', async () => {
  const s = await servers.start();
  const c = await cores.open(s.syncUrl, { storageManager: grantingStorage });
  class RefusingTab extends RecordingTab {
    override async persist(): Promise<boolean> {
      this.persistRequests++;
      throw new Error('the document is gone');
    }
  }
  const refusing = new RefusingTab();
  await c.tab('refusing').attach(refusing);
  await waitFor(() => refusing.persistRequests === 1, 'the first tab to be asked');
  // It answers when the test says: the tabs below attach while it is being asked, and after.
  let answer = (_granted: boolean) => {};
  class AnsweringLaterTab extends RecordingTab {
    override persist(): Promise<boolean> {
      this.persistRequests++;
      return new Promise((resolve) => (answer = resolve));
    }
  }
  const first = new AnsweringLaterTab();
  const second = new RecordingTab();
  await c.tab('first').attach(first);
  await waitFor(() => first.persistRequests === 1, 'the next tab to be asked');
  await c.tab('second').attach(second);
  await c.tab('first').attach(first); // the same tab again (back from the bfcache)
  answer(true);
  await reactionsRun();
  await c.tab('first').attach(first); // and again once the answer came
  assert.deepEqual([refusing.persistRequests, first.persistRequests, second.persistRequests], [1, 1, 0]);
  // The failure was a warning, and every attached tab heard it.
  const warning = refusing.logs.find((entry) => /persistent storage/.test(entry.message));
  assert.equal(warning?.level, 'warn');
  assert.ok(warning && !Number.isNaN(Date.parse(warning.at)));
  assert.ok(c.logger.warnings.some((w) => /persistent storage/.test(w)), 'the app logger still gets it');
});

test('the worker warnings reach every attached tab as log entries', async () => {
  const s = await servers.start();
  const c = await cores.open(s.syncUrl);
  const tabs = [new RecordingTab(), new RecordingTab()];
  await c.tab('one').attach(tabs[0]!);
  await c.tab('two').attach(tabs[1]!);
  // Losing the database is one of the things the worker warns about.
  await deleteDB(c.databaseName);
  for (const tab of tabs) {
    const entry = await waitFor(() => tab.logs.find((e) => /re-syncing from the server/.test(e.message)), 'the warning in each tab');
    assert.equal(entry.level, 'warn');
  }
});
