/** The SharedWorker entry: each connecting port gets the API through comlink, errors intact; and
 *  dedicated workers as peers, a follower showing its leader's outbox count. */
import assert from 'node:assert/strict';
import { after, afterEach, test } from 'node:test';
import { proxy, wrap, type Endpoint } from 'comlink';
import type { SyncWorkerApi } from '../protocol/tab-api';
import { serveTabs } from '../worker/entry/shared-worker';
import { TestServers } from './helpers/server';
import { leaderAndFollower, openTestCore, RecordingLogger, RecordingTab, removeDatabase, settled, TestCores, waitFor } from './helpers/worker';

/** What serveTabs uses of a SharedWorker global, on Node's globalThis. */
const scope = globalThis as unknown as {
  onconnect(event: { ports: MessagePort[] }): void;
  addEventListener?(type: string, listener: () => void): void;
};
const globalListeners = new Map<string, () => void>();
scope.addEventListener = (type, listener) => globalListeners.set(type, listener);
after(() => delete scope.addEventListener);

test('a connecting tab reaches the core through comlink, and SyncErrors cross intact', async () => {
  // Nothing listens there: the core keeps retrying, slowly.
  const core = openTestCore('ws://127.0.0.1:9/sync', { reconnectDelay: 60_000 });
  serveTabs(core, new RecordingLogger());
  const { port1, port2 } = new MessageChannel();
  // The tab calls before the core has opened: the port holds its messages until then.
  scope.onconnect({ ports: [port1] });
  const api = wrap<SyncWorkerApi>(port2 as unknown as Endpoint);
  const tab = new RecordingTab();
  try {
    const { status } = await api.attach(proxy(tab), undefined, 'tab-1');
    assert.equal(status.started, false);
    await api.watch('todos');
    await api.upsert('todos', { id: 'a', title: 'through comlink', done: false });
    await waitFor(() => tab.lists.length === 2, 'the change list');
    assert.deepEqual(tab.lists[1]?.records, [{ id: 'a', title: 'through comlink', done: false }]);
    await assert.rejects(api.upsert('todos', { id: 'b', title: 'x'.repeat(501), done: false }), (error: unknown) => {
      assert.deepEqual(error && { ...(error as object) }, {
        name: 'SyncError',
        code: 'invalid_record',
        message: 'invalid todos record: title: Invalid length: Expected <=500 but received 501',
      });
      return true;
    });

    // The global `online` event retries at once instead of waiting out the backoff.
    await api.start();
    const opened = await core;
    await waitFor(async () => !(await api.status()).connected && (await api.status()).lastError, 'the first attempt to fail');
    // The failed socket's close event: the backoff is waiting.
    await waitFor(async () => (await opened.api.diagnostics()).connection.state === 'retrying', 'the backoff');
    globalListeners.get('online')?.();
    // The backoff alone would wait at least 30 s.
    await waitFor(() => opened.traffic.sockets === 2, 'a retry on online', 2000);
    // Detaching releases the listener's channel (else its port would stay open).
    await api.detach();
  } finally {
    port1.close();
    port2.close();
    const opened = await core;
    await opened.close();
    await removeDatabase(opened.databaseName);
  }
});

// ── without SharedWorker: dedicated workers as peers on one database ──

const servers = new TestServers();
const cores = new TestCores();
afterEach(async () => {
  await cores.closeAll();
  await servers.stopAll();
});

/**
 * IndexedDB whose connections count the outbox one commit late: each count answers what the
 * previous one found. So Firefox answered a follower, in another process: its count begun after
 * the leader had removed an acknowledged write, and after the leader's status said so, still
 * found the write.
 */
function outboxCountsOneLate(factory: IDBFactory): IDBFactory {
  return new Proxy(factory, {
    get(target, key) {
      if (key === 'open') {
        return (name: string, version?: number) => {
          const request = target.open(name, version);
          request.addEventListener('success', () => countOneLate(request.result));
          return request;
        };
      }
      const value: unknown = Reflect.get(target, key);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function countOneLate(db: IDBDatabase): void {
  let previous: number | undefined;
  const transaction = db.transaction.bind(db);
  db.transaction = ((...args: Parameters<IDBDatabase['transaction']>) => {
    const tx = transaction(...args);
    const objectStore = tx.objectStore.bind(tx);
    tx.objectStore = (name: string) => {
      const store = objectStore(name);
      if (name !== 'outbox') return store;
      const count = store.count.bind(store);
      store.count = (query?: IDBValidKey | IDBKeyRange) => {
        const request = count(query);
        // Registered before any reader of the request's result.
        request.addEventListener('success', () => {
          const found = request.result;
          const answer = previous ?? found;
          previous = found;
          Object.defineProperty(request, 'result', { get: () => answer });
        });
        return request;
      };
      return store;
    };
    return tx;
  }) as IDBDatabase['transaction'];
}

test('a follower shows the leader’s pending count, its own writes counted at once, though its own reads of the outbox lag', async () => {
  const s = await servers.start();
  const { leader, follower } = await leaderAndFollower(cores, s.syncUrl, { indexedDB: outboxCountsOneLate(indexedDB) });
  await follower.tab('follower-tab').attach(new RecordingTab());
  await leader.tab('leader-tab').attach(new RecordingTab());

  // Written before the sync starts: the leader counts it, says so, and only then sends it.
  await follower.api.upsert('todos', { id: 'a', title: 'from the follower', done: false });
  // A write counts the moment it commits, before the leader has heard of it.
  assert.equal((await follower.api.status()).pending, 1);
  await waitFor(async () => (await follower.api.status()).pending === 1 && (await leader.api.status()).pending === 1, 'the leader to count the write');
  await follower.api.start();
  await settled(leader, 'the leader to connect and push the write');
  assert.deepEqual((await s.store.readLog('default', 0, 10)).map((logged) => logged.event.dataId), ['a']);
  await waitFor(async () => {
    const status = await follower.api.status();
    return status.authenticated && status.pending === 0;
  }, 'the follower to show the write acknowledged');
  assert.equal((await follower.api.diagnostics()).outbox.pending, 0);
  assert.equal(follower.traffic.sockets, 0);
});
