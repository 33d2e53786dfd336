/**
 * The facade (`connect`) against the real worker core, in Node: each "worker" the facade's factory
 * starts is the core exposed through comlink on one end of a MessageChannel, the factory handing
 * the facade the other end, as a SharedWorker's `port` would be. Node has no page and no Web
 * Locks: the facade runs without them, and the tests that need them install small fakes.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it, mock } from 'node:test';
import { expose, type Endpoint } from 'comlink';
import * as v from 'valibot';
import { workerLockName, type StoredRecord, type SyncWorkerApi } from '../protocol/tab-api';
import { connect, type SyncClient } from '../src';
import { deferredApi } from '../worker/entry/deferred-api';
import type { SyncCoreOptions } from '../worker/runtime/compose';
import { TestServers } from './helpers/server';
import { TestCores, TodoSchema, uniqueDatabaseName, waitFor, type TestCore } from './helpers/worker';

type Todo = { id: string; title: string; done: boolean };

/** A minimal Web Locks API: exclusive locks granted in request order, released when the
 *  callback's promise settles. */
class FakeLocks {
  private readonly queues = new Map<string, (() => void)[]>();

  request(name: string, granted: () => unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const grant = () =>
        void Promise.resolve()
          .then(granted)
          .then(resolve, reject)
          .finally(() => this.release(name));
      const queue = this.queues.get(name);
      if (queue) queue.push(grant);
      else {
        this.queues.set(name, []);
        grant();
      }
    });
  }

  private release(name: string): void {
    const next = this.queues.get(name)?.shift();
    if (next) next();
    else this.queues.delete(name);
  }
}

/** One worker as the facade sees it: the core behind a port, holding its worker lock while it lives. */
interface FakeWorker {
  core: Promise<TestCore>;
  /** Ends it as a browser would: no answer after this, and its lock is free. (Its core, inert
   *  without a server, is closed with the others after the test.) */
  kill(): Promise<void>;
}

const cores = new TestCores();
const servers = new TestServers();
const clients: SyncClient[] = [];
const ports: MessagePort[] = [];

afterEach(async () => {
  mock.timers.reset();
  await Promise.all(clients.splice(0).map((client) => client.close()));
  for (const port of ports.splice(0)) port.close();
  await cores.closeAll();
  await servers.stopAll();
  uninstallGlobals();
});

/** Starts a worker on `core`: the port the facade's factory returns, the other end exposed.
 *  `api` may stand in for the core's API (to lose an answer on purpose). */
function startWorker(core: Promise<TestCore>, locks?: FakeLocks, api?: (core: SyncWorkerApi) => SyncWorkerApi): { port: MessagePort; worker: FakeWorker } {
  const { port1, port2 } = new MessageChannel();
  ports.push(port1, port2);
  let releaseLock = () => {};
  // Held before the core answers anything, as the browser runtime does (runtime.ts).
  const held = core.then(
    (opened) =>
      new Promise<TestCore>((lockHeld) => {
        if (!locks) return lockHeld(opened);
        void locks.request(workerLockName(opened.workerId), () => {
          lockHeld(opened);
          return new Promise<void>((release) => (releaseLock = release));
        });
      }),
  );
  // deferredApi opens a session of the core per port, as the SharedWorker gives each tab its own.
  expose(deferredApi(held.then((opened) => (api ? { ...opened, openSession: () => api(opened.openSession()) } : opened))), port1 as unknown as Endpoint);
  const worker: FakeWorker = {
    core: held,
    async kill() {
      port1.close();
      await held;
      releaseLock();
    },
  };
  return { port: port2, worker };
}

/** Opens a core the way `cores.open` does, for a worker started later by a factory. */
const openCore = (websocketUrl: string, options: Partial<SyncCoreOptions> = {}) => cores.open(websocketUrl, options);

function tab(worker: () => MessagePort, options: { autoStart?: boolean; callTimeout?: number } = {}): SyncClient {
  const client = connect({ worker, ...options });
  clients.push(client);
  return client;
}

/** What a watcher received, list after list. */
function watch(client: SyncClient): StoredRecord[][] {
  const lists: StoredRecord[][] = [];
  client.repository('todos').watch((records) => lists.push([...records]));
  return lists;
}

const installed: string[] = [];
function install(name: string, value: unknown): void {
  Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  installed.push(name);
}
function uninstallGlobals(): void {
  for (const name of installed.splice(0)) delete (globalThis as Record<string, unknown>)[name];
}

/** A page for the facade to follow: `addEventListener` and `removeEventListener` on globalThis. */
function installPage(): EventTarget {
  const page = new EventTarget();
  install('addEventListener', page.addEventListener.bind(page));
  install('removeEventListener', page.removeEventListener.bind(page));
  return page;
}

describe('the facade against the worker core over a MessageChannel', () => {
  it('connects, writes durably, and its watchers and status follow the shared sync', async () => {
    assert.equal(typeof (globalThis as { navigator?: unknown }).navigator, 'undefined', 'Node has no navigator: the facade runs without Web Locks');
    const server = await servers.start();
    const core = openCore(server.syncUrl);
    const client = tab(() => startWorker(core).port);
    const statuses: boolean[] = [];
    client.onStatusChange((status) => statuses.push(status.authenticated));
    const lists = watch(client);
    const todos = client.repository<Todo>('todos');

    await todos.upsert({ id: 'a', title: 'through the facade', done: false });
    assert.deepEqual(await todos.get('a'), { id: 'a', title: 'through the facade', done: false });
    await waitFor(() => lists.at(-1)?.length === 1, 'the watcher to receive the write');
    assert.deepEqual(lists.at(-1), [{ id: 'a', title: 'through the facade', done: false }]);

    // autoStart: the shared sync runs; the write reaches the server and the outbox empties.
    const status = await waitFor(async () => {
      const now = await client.status();
      return now.authenticated && now.pending === 0 && now;
    }, 'the write to be acknowledged');
    assert.equal(status.started, true);
    assert.ok(statuses.includes(true), 'onStatusChange heard the authenticated status');
    const stored = (await (await fetch(`${server.url}/api/events/todos`)).json()) as { events: { dataId: string }[] };
    assert.deepEqual(stored.events.map((event) => event.dataId), ['a']);
  });

  it("a second tab on the same worker sees the first one's write", async () => {
    const core = openCore('ws://127.0.0.1:9/sync');
    const first = tab(() => startWorker(core).port, { autoStart: false });
    const second = tab(() => startWorker(core).port, { autoStart: false });
    const seen = watch(second);
    await waitFor(() => seen.length === 1, "the second tab's first list");

    await first.repository<Todo>('todos').upsert({ id: 'b', title: 'from the first tab', done: true });
    await waitFor(() => seen.at(-1)?.length === 1, 'the second tab to see the write');
    assert.deepEqual(seen.at(-1), [{ id: 'b', title: 'from the first tab', done: true }]);
    assert.equal((await second.diagnostics()).tabs.length, 2);
  });

  it('batch writes over two repositories through the core, each write typed by its repository', async () => {
    const schemas = { todos: TodoSchema, notes: v.object({ id: v.string(), text: v.string() }) };
    const core = openCore('ws://127.0.0.1:9/sync', { repositories: schemas });
    const client = connect<typeof schemas>({ worker: () => startWorker(core).port, autoStart: false });
    clients.push(client as unknown as SyncClient);
    // @ts-expect-error a note has no title: the write is typed by its repository
    void (() => client.batch([{ repository: 'notes', upsert: { id: 'n', title: 'wrong' } }]));

    await client.batch([
      { repository: 'todos', upsert: { id: 't', title: 'in a batch', done: false } },
      { repository: 'notes', upsert: { id: 'n', text: 'in the same batch' } },
    ]);
    assert.deepEqual(await client.repository('todos').get('t'), { id: 't', title: 'in a batch', done: false });
    assert.deepEqual(await client.repository('notes').get('n'), { id: 'n', text: 'in the same batch' });
    await client.batch([{ repository: 'notes', delete: 'n' }]);
    assert.equal(await client.repository('notes').get('n'), undefined);
  });

  it('close detaches the tab from the worker, and later calls reject with closed', async () => {
    const core = openCore('ws://127.0.0.1:9/sync');
    const staying = tab(() => startWorker(core).port, { autoStart: false });
    const leaving = tab(() => startWorker(core).port, { autoStart: false });
    watch(leaving);
    await waitFor(async () => (await staying.diagnostics()).tabs.some((each) => each.watching.includes('todos')), 'the leaving tab to watch');

    await leaving.close();
    assert.deepEqual((await staying.diagnostics()).tabs.map((each) => each.watching), [[]], 'only the staying tab, watching nothing');
    await assert.rejects(leaving.status(), { code: 'closed' });
  });

  it('pagehide detaches the tab, pageshow attaches it again with its watchers', async () => {
    const core = openCore('ws://127.0.0.1:9/sync');
    // Opened before the page exists: only the second tab follows it.
    const other = tab(() => startWorker(core).port, { autoStart: false });
    const page = installPage();
    const client = tab(() => startWorker(core).port, { autoStart: false });
    const lists = watch(client);
    await waitFor(() => lists.length === 1, 'the first list');
    const attached = async () => (await other.diagnostics()).tabs.length;
    assert.equal(await attached(), 2);

    page.dispatchEvent(new Event('pagehide'));
    await waitFor(async () => (await attached()) === 1, 'the hidden tab to be detached');
    await other.repository<Todo>('todos').upsert({ id: 'c', title: 'while away', done: false });

    page.dispatchEvent(new Event('pageshow'));
    await waitFor(() => lists.at(-1)?.length === 1, 'the current list on coming back');
    assert.deepEqual(lists.at(-1), [{ id: 'c', title: 'while away', done: false }]);
    assert.equal(await attached(), 2);
  });

  it('a call rejects with worker_unavailable once callTimeout passed without an answer', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    // A port nobody answers: a worker that never started.
    const client = tab(() => {
      const { port1, port2 } = new MessageChannel();
      ports.push(port1, port2);
      return port2;
    }, { callTimeout: 5000 });
    let settled = false;
    const status = client.status().finally(() => (settled = true));
    status.catch(() => {});

    mock.timers.tick(4999);
    await new Promise(setImmediate);
    assert.equal(settled, false, 'still waiting before the deadline');
    mock.timers.tick(1);
    await assert.rejects(status, { code: 'worker_unavailable' });

    // close() waits for its detach the same way, then lets go.
    const closed = client.close();
    mock.timers.tick(5000);
    await closed;
    await assert.rejects(client.status(), { code: 'closed' });
  });

  it('a batch lost with its worker runs again on the next one, is applied once, and reaches the server once', async () => {
    const s = await servers.start();
    const locks = new FakeLocks();
    install('navigator', { locks });
    const schemas = { todos: TodoSchema, notes: v.object({ id: v.string(), text: v.string() }) };
    const options = { databaseName: uniqueDatabaseName(), repositories: schemas };
    const workers: FakeWorker[] = [];
    let committedThenLost: () => void = () => {};
    const lost = new Promise<void>((resolve) => (committedThenLost = resolve));
    // The first worker commits the batch, then dies before it answers.
    const losingBatch = (api: SyncWorkerApi): SyncWorkerApi => ({
      ...api,
      batch: async (...args) => {
        await api.batch(...args);
        committedThenLost();
        return new Promise<never>(() => {});
      },
    });
    const client = connect<typeof schemas>({
      worker: () => {
        const { port, worker } = startWorker(openCore(s.syncUrl, options), locks, workers.length === 0 ? losingBatch : undefined);
        workers.push(worker);
        return port;
      },
      autoStart: false,
    });
    clients.push(client as unknown as SyncClient);

    const written = client.batch([
      { repository: 'todos', upsert: { id: 't', title: 'in the batch', done: false } },
      { repository: 'notes', upsert: { id: 'n', text: 'in the same batch' } },
      { repository: 'todos', upsert: { id: 'u', title: 'also in it', done: false } },
    ]);
    await lost;
    // Meanwhile another runtime on the same database writes one of its records again: applied
    // twice, the batch would undo that.
    const other = connect<typeof schemas>({ worker: () => startWorker(openCore(s.syncUrl, options), locks).port, autoStart: false });
    clients.push(other as unknown as SyncClient);
    await other.repository('todos').upsert({ id: 't', title: 'written after the batch', done: true });
    await workers[0]?.kill();

    await written;
    assert.equal(workers.length, 2, 'the factory started a second worker');
    assert.deepEqual(await client.repository('todos').getAll(), [
      { id: 't', title: 'written after the batch', done: true },
      { id: 'u', title: 'also in it', done: false },
    ]);
    assert.deepEqual(await client.repository('notes').getAll(), [{ id: 'n', text: 'in the same batch' }]);
    assert.equal((await client.diagnostics()).outbox.pending, 4, 'the batch queued once, and the other write');

    await client.start();
    await waitFor(async () => (await client.status()).pending === 0, 'the outbox to be acknowledged');
    const logged = (await s.store.readLog('default', 0, 100)).map(({ event }) => event.dataId).sort();
    assert.deepEqual(logged, ['n', 't', 't', 'u'], 'each event of the batch stored once, beside the other write');
  });

  it('a write lost with its worker runs again on the one the factory starts next, and applies once', async () => {
    const locks = new FakeLocks();
    install('navigator', { locks });
    const databaseName = uniqueDatabaseName();
    const workers: FakeWorker[] = [];
    let committedThenLost: () => void = () => {};
    const lost = new Promise<void>((resolve) => (committedThenLost = resolve));
    // The first worker commits the first write, then never answers it.
    let losing = true;
    const losingWrites = (api: SyncWorkerApi): SyncWorkerApi => ({
      ...api,
      writes: async (...args) => {
        const outcomes = await api.writes(...args);
        if (!losing) return outcomes;
        losing = false;
        committedThenLost();
        return new Promise<never>(() => {});
      },
    });
    const client = tab(
      () => {
        const { port, worker } = startWorker(openCore('ws://127.0.0.1:9/sync', { databaseName }), locks, losingWrites);
        workers.push(worker);
        return port;
      },
      { autoStart: false },
    );
    const lists = watch(client);
    await waitFor(() => lists.length === 1, 'the first list');
    const firstWorker = (await client.diagnostics()).worker.id;

    const written = client.repository<Todo>('todos').upsert({ id: 'd', title: 'first', done: false });
    await lost;
    // Meanwhile another runtime on the same database writes the record again.
    const other = tab(() => startWorker(openCore('ws://127.0.0.1:9/sync', { databaseName }), locks).port, { autoStart: false });
    await other.repository<Todo>('todos').upsert({ id: 'd', title: 'second', done: true });
    await workers[0]?.kill();

    await written;
    assert.equal(workers.length, 2, 'the factory started a second worker');
    const diagnostics = await client.diagnostics();
    assert.notEqual(diagnostics.worker.id, firstWorker);
    // Retried, the first write is recognised by its eventId in the outbox: it does not undo the second.
    assert.deepEqual(await client.repository<Todo>('todos').getAll(), [{ id: 'd', title: 'second', done: true }]);
    assert.equal(diagnostics.outbox.pending, 2, 'each write queued once');
    // The new worker learned this tab's watchers.
    assert.deepEqual(diagnostics.tabs.map((each) => each.watching), [['todos']]);
  });
});
