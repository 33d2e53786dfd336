/** The SharedWorker entry: each connecting port gets the API through comlink, errors intact. */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { proxy, wrap, type Endpoint } from 'comlink';
import type { SyncWorkerApi } from '../protocol/tab-api';
import { serveTabs } from '../worker/entry/shared-worker';
import { openTestCore, RecordingLogger, RecordingTab, removeDatabase, waitFor } from './helpers/worker';

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
    const { status } = await api.attach('tab-1', proxy(tab));
    assert.equal(status.started, false);
    await api.watch('tab-1', 'todos');
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
    await api.detach('tab-1');
  } finally {
    port1.close();
    port2.close();
    const opened = await core;
    await opened.close();
    await removeDatabase(opened.databaseName);
  }
});
