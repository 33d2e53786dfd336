/**
 * createSyncServer's `schemas` and `authorizeWrite` over real sockets, on SQLite and PostgreSQL:
 * a push is checked before it is stored; a refused one is stored not in part nor whole, names its
 * events, and no catch-up shows it; a hook that throws, hangs or answers garbage is `internal`
 * (nothing stored, sent again), never a crash.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import * as v from 'valibot';
import { Operation, ServerMessageSchema, type SequencedEvent, type SyncEvent } from '../protocol';
import type { SyncServerOptions, WriteRequest, WriteVerdict } from '../server/create-sync-server';
import type { TestClient } from './helpers/client';
import { createTestDatabase } from './helpers/postgres';
import { Cleanups, startHookedServer, type HookedServer } from './server-hooks-harness';
import { makeEvent } from './store-contract';

const TIMEOUT_MS = 500;

const schemas: SyncServerOptions['schemas'] = {
  todos: v.object({ id: v.string(), title: v.pipe(v.string(), v.maxLength(20)), done: v.boolean() }),
  // An async schema: the server awaits it as it does a sync one.
  tags: v.objectAsync({ id: v.string(), name: v.pipeAsync(v.string(), v.checkAsync(async (name) => name !== 'taken', 'name is taken')) }),
  buggy: v.pipe(
    v.object({}),
    v.check(() => {
      throw new Error('schema bug');
    }),
  ),
};

/** What authorizeWrite was asked, in order. */
let asked: WriteRequest[] = [];
/** Lets the push to `held` go on (allowed), once the test says so. */
let release: () => void = () => {};

function authorizeWrite(write: WriteRequest): WriteVerdict | Promise<WriteVerdict> {
  asked.push(write);
  switch (write.repository) {
    case 'audit':
      return { allow: false, reason: 'the audit log is read-only' };
    case 'boom':
      throw new Error('policy service at 10.0.0.9 is down');
    case 'slow':
      return new Promise(() => {});
    case 'held':
      return new Promise((resolve) => (release = () => resolve({ allow: true })));
    case 'odd':
      return { allow: 'yes' } as unknown as WriteVerdict;
    case 'trap':
      return {
        get allow(): true {
          throw new Error('a getter that throws');
        },
      };
    default:
      return Promise.resolve(write.principal === 'mallory' ? { allow: false, reason: 'mallory may not write' } : { allow: true });
  }
}

const todo = (id: string, second: number, fields: Record<string, unknown> = {}): SyncEvent =>
  makeEvent(id, second, { data: { id, title: `todo ${id}`, done: false, ...fields } });

type DatabaseUrl = () => Promise<{ url: string; drop(): Promise<void> } | undefined>;

function runWriteHooksSuite(label: string, database: DatabaseUrl): void {
  describe(`createSyncServer: schemas and authorizeWrite (${label})`, () => {
    const cleanups = new Cleanups();
    afterEach(() => cleanups.run());

    async function start(authTimeoutMs = TIMEOUT_MS): Promise<HookedServer> {
      asked = [];
      const db = await database();
      if (db) cleanups.add(() => db.drop());
      const server = await startHookedServer({
        ...(db ? { databaseUrl: db.url } : {}),
        authenticate: ({ token }) => (token === 'expiring' ? { principal: token, namespace: 'team', expiresAt: Date.now() + 300 } : token ? { principal: token, namespace: 'team' } : null),
        authorizeWrite,
        schemas,
        authTimeoutMs,
      });
      cleanups.add(() => server.close());
      return server;
    }
    async function login(server: HookedServer, principal: string): Promise<TestClient> {
      const client = await cleanups.client(server.syncUrl);
      client.send({ type: 'auth', token: principal });
      await client.next('auth_success');
      return client;
    }
    function push(client: TestClient, repository: string, events: SyncEvent[]) {
      client.send(events.length === 1 ? { type: 'push_event', repository, event: events[0] } : { type: 'push_events_batch', repository, events });
      return client.next();
    }
    async function caughtUp(client: TestClient, repository: string): Promise<SequencedEvent[]> {
      const pages = await client.collect({ type: 'request_events', repository });
      return pages.flatMap((page) => page.events as SequencedEvent[]);
    }
    async function repositories(server: HookedServer): Promise<string[]> {
      const response = await fetch(`${server.url}/api/repositories`, { headers: { authorization: 'Bearer alice' } });
      return ((await response.json()) as { name: string }[]).map((r) => r.name).sort();
    }
    const ids = (events: readonly SyncEvent[]) => events.map((e) => e.eventId);

    it('an allowed push is stored and acked; authorizeWrite is asked with the principal, namespace, repository and events', async () => {
      const server = await start();
      const alice = await login(server, 'alice');
      const events = [todo('a', 1), todo('b', 2)];
      const ack = await push(alice, 'todos', events);
      assert.deepEqual(ack, { type: 'ack', eventIds: ids(events), repositories: { todos: ids(events) } });
      assert.deepEqual(asked, [{ principal: 'alice', namespace: 'team', repository: 'todos', events }]);
      assert.deepEqual(ids(await caughtUp(alice, 'todos')), ids(events));
    });

    it('a refused push names exactly its events and the reason; nothing of it is stored, and the next event is sequence 1', async () => {
      const server = await start();
      const alice = await login(server, 'alice');
      const refusedBatch = [makeEvent('x', 1), makeEvent('y', 2)];
      const refusal = await push(alice, 'audit', refusedBatch);
      assert.equal(refusal.type, 'error');
      assert.deepEqual(refusal.type === 'error' && [refusal.code, refusal.eventIds], ['forbidden', ids(refusedBatch)]);
      assert.match(refusal.type === 'error' ? refusal.message : '', /the audit log is read-only; nothing of it was stored/);
      const mallory = await login(server, 'mallory');
      assert.deepEqual(await push(mallory, 'todos', [todo('m', 3)]).then((r) => r.type === 'error' && r.code), 'forbidden');

      assert.deepEqual(await caughtUp(alice, 'audit'), []);
      assert.deepEqual(await repositories(server), []);
      assert.equal((await push(alice, 'todos', [todo('a', 4)])).type, 'ack');
      const stored = await caughtUp(alice, 'todos');
      assert.deepEqual(stored.map((e) => [e.dataId, e.serverSequence]), [['a', 1]], 'the refused pushes took no sequence');
    });

    it('a record its schema refuses refuses the whole push with invalid_record, naming the event and the path; authorizeWrite is not asked', async () => {
      const server = await start();
      const alice = await login(server, 'alice');
      const batch = [todo('good', 1), todo('bad', 2, { title: 42 }), todo('later', 3)];
      const refusal = await push(alice, 'todos', batch);
      assert.equal(refusal.type === 'error' && refusal.code, 'invalid_record');
      assert.deepEqual(refusal.type === 'error' && refusal.eventIds, ids(batch), 'every event of the push: it is refused whole');
      const message = refusal.type === 'error' ? refusal.message : '';
      assert.ok(message.includes(`event ${batch[1]!.eventId}`), message);
      assert.match(message, /title: Invalid type/);
      const tag = await push(alice, 'tags', [makeEvent('t', 4, { data: { id: 't', name: 'taken' } })]);
      assert.deepEqual(tag.type === 'error' && [tag.code, tag.message.includes('name: name is taken')], ['invalid_record', true]);
      assert.deepEqual(asked, [], 'records are checked first');
      assert.deepEqual(await caughtUp(alice, 'todos'), []);
      assert.deepEqual(await repositories(server), []);
    });

    it('good records, deletes (no record to check) and repositories without a schema are accepted', async () => {
      const server = await start();
      const alice = await login(server, 'alice');
      const accepted: [string, SyncEvent[]][] = [
        ['todos', [todo('a', 1)]],
        ['todos', [makeEvent('a', 2, { operation: Operation.delete, data: undefined })]],
        ['tags', [makeEvent('t', 3, { data: { id: 't', name: 'free' } })]],
        ['notes', [makeEvent('n', 4, { data: { anything: ['goes', 1] } })]],
      ];
      for (const [repository, events] of accepted) assert.equal((await push(alice, repository, events)).type, 'ack', repository);
      assert.deepEqual(await repositories(server), ['notes', 'tags', 'todos']);
    });

    it('a hook or schema that throws, hangs or answers garbage is internal: no events named, nothing stored, a log line; the connection goes on', async () => {
      const server = await start();
      const alice = await login(server, 'alice');
      const failures: [string, RegExp][] = [
        ['boom', /authorizeWrite threw: policy service at 10\.0\.0\.9 is down/],
        ['odd', /authorizeWrite answered an object with keys allow/],
        ['trap', /a getter that throws/],
        ['slow', new RegExp(`authorizeWrite did not answer within ${TIMEOUT_MS} ms`)],
        ['buggy', /buggy schema threw: schema bug/],
      ];
      for (const [repository, logged] of failures) {
        const reply = await push(alice, repository, [makeEvent('f', 1)]);
        assert.equal(reply.type === 'error' && reply.code, 'internal', repository);
        assert.equal(reply.type === 'error' && reply.eventIds, undefined, `${repository}: a failure refuses nothing for good`);
        assert.doesNotMatch(reply.type === 'error' ? reply.message : '', /10\.0\.0\.9/);
        assert.ok(server.logs.some((line) => logged.test(JSON.stringify(line))), `${repository}: ${logged}`);
      }
      assert.deepEqual(await repositories(server), []);
      assert.equal((await push(alice, 'todos', [todo('a', 2)])).type, 'ack');
    });

    it('a push whose identity expires while authorizeWrite decides is not stored: unauthenticated, sent again after a new auth', async () => {
      // A hook bound far beyond the identity's 300 ms: the expiry comes first.
      const server = await start(10_000);
      const client = await login(server, 'expiring');
      client.send({ type: 'push_event', repository: 'held', event: makeEvent('h', 1) });
      assert.equal((await client.next('error')).code, 'auth_failed', 'the identity expired');
      release();
      const reply = await client.next('error');
      assert.deepEqual([reply.code, reply.eventIds], ['unauthenticated', undefined]);
      const reader = await login(server, 'alice');
      assert.deepEqual(await caughtUp(reader, 'held'), []);
    });

    it('schemas that are not valibot schemas of repository names fail the start', async () => {
      await assert.rejects(startHookedServer({ schemas: { todos: {} as never } }), /schemas\.todos must be a valibot schema/);
      await assert.rejects(startHookedServer({ schemas: { 'my todos': v.object({}) } }), /schemas: "my todos" is not a repository name/);
      await assert.rejects(startHookedServer({ authorizeWrite: true as never }), /authorizeWrite must be a function/);
    });
  });
}

runWriteHooksSuite('sqlite', async () => undefined);
runWriteHooksSuite('postgres', createTestDatabase);

describe('the refusal codes on the wire', () => {
  it('a client reads forbidden and invalid_record as the codes they are, with their eventIds', () => {
    for (const code of ['forbidden', 'invalid_record'] as const) {
      const read = v.parse(ServerMessageSchema, { type: 'error', code, message: 'refused', eventIds: ['e1'] });
      assert.deepEqual(read, { type: 'error', code, message: 'refused', eventIds: ['e1'] });
    }
  });
});
