/**
 * `push_batch` over a real server (createSyncServer on 127.0.0.1) and real sockets, on SQLite and
 * PostgreSQL: several repositories' events stored all or none in one commit, acked once, each
 * repository's catch-up showing its part, another client sent it as one `events_batch` frame (a
 * client that did not ask for batches: one `events` frame per repository), onCommitted told once;
 * refused whole (invalid_record, forbidden, quota_exceeded, event_id_conflict) naming all its
 * events; malformed batch frames refused with a clear error, the server still serving.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import * as v from 'valibot';
import { EVENTS_BATCH_FEATURE, MAX_BATCH_EVENTS, MAX_BATCH_REPOSITORIES, Operation, type SequencedEvent, type SyncEvent } from '../protocol';
import type { CommittedEvents } from '../server/change-feed';
import { createSyncServer, type SyncServerOptions, type WriteRequest } from '../server/create-sync-server';
import { TestClient } from './helpers/client';
import { Cleanups } from './server-hooks-harness';
import { makeEvent, sizeOf } from './store-contract';

export type BatchDatabase = () => Promise<{ url: string; drop(): Promise<void> }>;

const schemas: SyncServerOptions['schemas'] = {
  todos: v.object({ id: v.string(), title: v.pipe(v.string(), v.maxLength(20)) }),
  lists: v.object({ id: v.string(), name: v.string() }),
};

const todo = (id: string, second: number, title = `todo ${id}`): SyncEvent => makeEvent(id, second, { data: { id, title } });
const list = (id: string, second: number, fields: Record<string, unknown> = {}): SyncEvent => makeEvent(id, second, { data: { id, name: `list ${id}`, ...fields } });
const ids = (events: readonly SyncEvent[]) => events.map((e) => e.eventId);
const parts = (...pairs: [string, SyncEvent[]][]) => pairs.map(([repository, events]) => ({ repository, events }));

interface BatchServer {
  syncUrl: string;
  committed: CommittedEvents[];
  asked: WriteRequest[];
}

/** `instances`: the database can be served by several servers at once (PostgreSQL). */
export function runBatchSuite(label: string, database: BatchDatabase, instances = false): void {
  describe(`push_batch (${label})`, () => {
    const cleanups = new Cleanups();
    afterEach(() => cleanups.run());

    async function start(options: SyncServerOptions = {}): Promise<BatchServer> {
      const db = await database();
      cleanups.add(() => db.drop());
      return serve(db.url, options);
    }

    /** A server over the database at `url` (another instance, when one serves it already). */
    async function serve(url: string, options: SyncServerOptions = {}): Promise<BatchServer> {
      const asked: WriteRequest[] = [];
      const sync = await createSyncServer({
        databaseUrl: url,
        logLevel: 'silent',
        authenticate: ({ token }) => (token ? { principal: token, namespace: 'team' } : null),
        authorizeWrite: (write) => {
          asked.push(write);
          return write.repository === 'audit' ? { allow: false, reason: 'the audit log is read-only' } : { allow: true };
        },
        schemas,
        ...options,
      });
      const app = createServer((_request, response) => response.end('app'));
      sync.attach(app);
      await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
      cleanups.add(async () => {
        await sync.close();
        app.closeAllConnections();
        await new Promise((resolve) => app.close(resolve));
      });
      const committed: CommittedEvents[] = [];
      sync.onCommitted((commit) => void committed.push(commit));
      return { syncUrl: `ws://127.0.0.1:${(app.address() as AddressInfo).port}/sync`, committed, asked };
    }

    async function login(server: BatchServer, features?: string[]): Promise<TestClient> {
      const client = await cleanups.client(server.syncUrl);
      client.send({ type: 'auth', token: 'alice', ...(features ? { features } : {}) });
      await client.next('auth_success');
      return client;
    }

    async function catchUp(client: TestClient, repository: string): Promise<SequencedEvent[]> {
      return (await client.collect({ type: 'request_events', repository })).flatMap((page) => page.events as SequencedEvent[]);
    }

    /** The client's frames until (and with) the pong that answers a ping sent now: what arrived before it. */
    async function framesBeforePong(client: TestClient): Promise<string[]> {
      client.send({ type: 'ping' });
      await client.next('pong');
      return client.inbox.splice(0).map((m) => m.type);
    }

    it('stores a batch over two repositories whole: one ack naming all, each catch-up its part, another client one events_batch frame, onCommitted once', async () => {
      const server = await start();
      const sender = await login(server, [EVENTS_BATCH_FEATURE]);
      const batchClient = await login(server, [EVENTS_BATCH_FEATURE, 'some-future-feature']);
      const oldClient = await login(server);
      const todos = [todo('t1', 1), todo('t2', 2)];
      const lists = [list('l1', 3), makeEvent('l0', 4, { operation: Operation.delete, data: undefined })];
      sender.send({ type: 'push_batch', repositories: parts(['todos', todos], ['lists', lists]) });
      const ack = await sender.next('ack');
      assert.deepEqual(ack, { type: 'ack', eventIds: [...ids(todos), ...ids(lists)], repositories: { todos: ids(todos), lists: ids(lists) } });

      const frame = await batchClient.next('events_batch');
      assert.deepEqual(
        frame.repositories.map(({ repository, events }) => [repository, events.map((e) => [e.eventId, e.serverSequence])]),
        [['todos', [[todos[0]!.eventId, 1], [todos[1]!.eventId, 2]]], ['lists', [[lists[0]!.eventId, 3], [lists[1]!.eventId, 4]]]],
      );
      assert.deepEqual(await framesBeforePong(batchClient), [], 'the batch came as that one frame');
      const old = [await oldClient.next('events'), await oldClient.next('events')];
      assert.deepEqual(old.map((m) => [m.repository, m.events.map((e) => e.dataId), m.hasMore]), [['todos', ['t1', 't2'], undefined], ['lists', ['l1', 'l0'], undefined]], 'a client before batches: one events frame per repository');
      assert.deepEqual(await framesBeforePong(oldClient), []);
      assert.deepEqual(await framesBeforePong(sender), [], 'the sender is not sent its own batch');

      assert.deepEqual((await catchUp(batchClient, 'todos')).map((e) => e.dataId), ['t1', 't2']);
      assert.deepEqual((await catchUp(batchClient, 'lists')).map((e) => e.dataId), ['l1', 'l0']);
      assert.equal(server.committed.length, 1, 'onCommitted hears the batch once, as one commit');
      const [commit] = server.committed;
      assert.deepEqual(commit!.events.map((e) => [e.repository, e.event.dataId]), [['todos', 't1'], ['todos', 't2'], ['lists', 'l1'], ['lists', 'l0']]);
      assert.equal(new Set(commit!.events.map((e) => e.batch)).size, 1, 'its events marked as one batch');
      assert.deepEqual(server.asked.map((w) => [w.repository, w.events.length]), [['todos', 2], ['lists', 2]], 'authorizeWrite is asked per repository part');

      // Sent again (its ack lost): acked, nothing stored twice, nothing sent again.
      sender.send({ type: 'push_batch', repositories: parts(['todos', todos], ['lists', lists]) });
      assert.deepEqual((await sender.next('ack')).eventIds, ack.eventIds);
      assert.deepEqual(await framesBeforePong(batchClient), []);
      assert.equal(server.committed.length, 1);
    });

    it('refuses a batch whole when a record of its second repository fails its schema, or authorizeWrite refuses a part: named, nothing stored', async () => {
      const server = await start();
      const sender = await login(server);
      const watcher = await login(server, [EVENTS_BATCH_FEATURE]);
      const todos = [todo('t1', 1)];
      const bad = list('l1', 2, { name: 42 });
      const lists = [list('l0', 2), bad];
      sender.send({ type: 'push_batch', repositories: parts(['todos', todos], ['lists', lists]) });
      const invalid = await sender.next('error');
      assert.equal(invalid.code, 'invalid_record');
      assert.match(invalid.message, new RegExp(`invalid lists record in event ${bad.eventId}: name: `));
      assert.deepEqual(invalid.eventIds, [...ids(todos), ...ids(lists)], 'every event of the batch is named');

      const audit = [makeEvent('a1', 3, { data: { id: 'a1' } })];
      sender.send({ type: 'push_batch', repositories: parts(['todos', [todo('t2', 4)]], ['audit', audit]) });
      const forbidden = await sender.next('error');
      assert.equal(forbidden.code, 'forbidden');
      assert.match(forbidden.message, /the audit log is read-only/);
      assert.equal(forbidden.eventIds?.length, 2);

      for (const repository of ['todos', 'lists', 'audit']) assert.deepEqual(await catchUp(sender, repository), [], `nothing of ${repository}`);
      assert.deepEqual(await framesBeforePong(watcher), [], 'nothing was sent to the others');
      assert.deepEqual(server.committed, []);
    });

    it('refuses a batch whole for the quota over all its parts and for an eventId stored in another repository', async () => {
      const first = [todo('t0', 1)];
      const todos = [todo('t1', 2)];
      const lists = [list('l1', 3)];
      // Room for the first push and either part of the batch, not both.
      const quota = sizeOf('todos', first) + Math.max(sizeOf('todos', todos), sizeOf('lists', lists)) + 1;
      const server = await start({ namespaceQuotaBytes: quota });
      const sender = await login(server);
      sender.send({ type: 'push_event', repository: 'todos', event: first[0] });
      await sender.next('ack');
      sender.send({ type: 'push_batch', repositories: parts(['todos', todos], ['lists', lists]) });
      const quotaError = await sender.next('error');
      assert.equal(quotaError.code, 'quota_exceeded');
      assert.deepEqual(quotaError.eventIds, [...ids(todos), ...ids(lists)]);

      sender.send({ type: 'push_batch', repositories: parts(['lists', lists], ['notes', [{ ...first[0]!, data: { id: 't0', other: true } }]]) });
      const conflict = await sender.next('error');
      assert.equal(conflict.code, 'event_id_conflict');
      assert.match(conflict.message, new RegExp(`eventId ${first[0]!.eventId} is already stored in repository todos`));
      assert.deepEqual(conflict.eventIds, [...ids(lists), first[0]!.eventId]);

      assert.deepEqual((await catchUp(sender, 'todos')).map((e) => e.dataId), ['t0']);
      assert.deepEqual(await catchUp(sender, 'lists'), []);
      assert.deepEqual(await catchUp(sender, 'notes'), []);
      sender.send({ type: 'push_batch', repositories: parts(['lists', lists]) });
      assert.deepEqual((await sender.next('ack')).eventIds, ids(lists), 'what fits is still taken');
    });

    if (instances) {
      it('sends a batch committed through another instance as one events_batch frame, and its onCommitted hears it marked as one batch', async () => {
        const db = await database();
        cleanups.add(() => db.drop());
        const [first, second] = [await serve(db.url), await serve(db.url)];
        const sender = await login(first);
        const watcher = await login(second, [EVENTS_BATCH_FEATURE]);
        const oldClient = await login(second);
        const todos = [todo('t1', 1)];
        const lists = [list('l1', 2), list('l2', 3)];
        sender.send({ type: 'push_batch', repositories: parts(['todos', todos], ['lists', lists]) });
        await sender.next('ack');
        const frame = await watcher.next('events_batch', 10_000);
        assert.deepEqual(frame.repositories.map(({ repository, events }) => [repository, events.map((e) => e.dataId)]), [['todos', ['t1']], ['lists', ['l1', 'l2']]]);
        assert.deepEqual(await framesBeforePong(watcher), []);
        assert.deepEqual([await oldClient.next('events', 10_000), await oldClient.next('events')].map((m) => m.repository), ['todos', 'lists']);
        await until(() => second.committed.length > 0);
        assert.deepEqual(second.committed.flatMap((c) => c.events.map((e) => [e.event.dataId, e.batch, e.origin])), [['t1', 1, undefined], ['l1', 1, undefined], ['l2', 1, undefined]]);
      });
    }

    it('answers malformed batch frames with a clear invalid_message (naming the events when it can) and goes on serving', async () => {
      const server = await start();
      const client = await login(server);
      const many = Array.from({ length: MAX_BATCH_REPOSITORIES + 1 }, (_, i) => ({ repository: `r${i}`, events: [todo(`x${i}`, i)] }));
      const half = Array.from({ length: MAX_BATCH_EVENTS / 2 + 1 }, (_, i) => todo(`h${i}`, i));
      const twice = todo('twice', 1);
      const cases: [string, unknown, RegExp, boolean][] = [
        ['no repositories', undefined, /repositories/, false],
        ['repositories not a list', { todos: [twice] }, /repositories/, false],
        ['empty', [], /at least one repository/, false],
        ['a part without events', [{ repository: 'todos' }], /events/, false],
        ['events not a list', [{ repository: 'todos', events: 'all' }], /events/, false],
        ['a part of no events', [{ repository: 'todos', events: [] }], /at least one event/, false],
        ['a bad repository name', [{ repository: '__proto__x y', events: [todo('a', 1)] }], /repository must match/, true],
        ['a bad event', [{ repository: 'todos', events: [{ ...todo('b', 1), createdAt: 'yesterday' }] }], /createdAt/, true],
        ['too many repositories', many, new RegExp(`at most ${MAX_BATCH_REPOSITORIES} repositories`), true],
        ['too many events in all', [{ repository: 'todos', events: half }, { repository: 'lists', events: half.map((e) => ({ ...e, eventId: `${e.eventId}-l` })) }], new RegExp(`at most ${MAX_BATCH_EVENTS} events per batch`), false],
        ['a repository twice', [{ repository: 'todos', events: [todo('c', 1)] }, { repository: 'todos', events: [todo('d', 2)] }], /repository todos is named twice/, true],
        ['an eventId twice', [{ repository: 'todos', events: [twice] }, { repository: 'lists', events: [{ ...list('e', 1), eventId: twice.eventId }] }], new RegExp(`eventId ${twice.eventId} is given twice`), true],
      ];
      for (const [what, repositories, message, named] of cases) {
        client.send({ type: 'push_batch', ...(repositories === undefined ? {} : { repositories }) });
        const error = await client.next('error');
        assert.equal(error.code, 'invalid_message', what);
        assert.match(error.message, message, what);
        assert.equal(error.eventIds !== undefined, named, `${what}: events named only when all are known`);
      }
      const duplicated = await clientErrorFor(client, [{ repository: 'todos', events: [twice] }, { repository: 'lists', events: [{ ...list('e', 1), eventId: twice.eventId }] }]);
      assert.deepEqual(duplicated.eventIds, [twice.eventId], 'an eventId given twice is named once');

      client.sendRaw(JSON.stringify({ type: 'push_batch', repositories: [{ repository: 'todos', events: [todo('huge', 1, 'x'.repeat(1024 * 1024))] }] }));
      assert.equal((await client.next('error')).code, 'too_large');
      assert.equal(await client.closeCode(), 1009);

      const next = await login(server);
      assert.deepEqual(await catchUp(next, 'todos'), [], 'nothing of any malformed batch was stored');
      next.send({ type: 'push_batch', repositories: parts(['todos', [todo('fine', 1)]]) });
      assert.equal((await next.next('ack')).eventIds.length, 1, 'the server still takes batches');
    });
  });
}

async function clientErrorFor(client: TestClient, repositories: unknown) {
  client.send({ type: 'push_batch', repositories });
  return client.next('error');
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
