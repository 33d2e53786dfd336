/**
 * Server-side writes and the change feed of createSyncServer, on SQLite and on PostgreSQL: real
 * sync servers attached to real HTTP servers on loopback, real `ws` clients.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import * as v from 'valibot';
import { MAX_TIMESTAMP, Operation, type SequencedEvent, type SyncEvent } from '../protocol';
import { createSyncServer, type CommittedEvents, type SyncServer, type SyncServerOptions } from '../server/create-sync-server';
import { authed, type AuthedClient } from './helpers/client';
import { createTestDatabase } from './helpers/postgres';
import { waitFor } from './helpers/wait';
import { makeEvent } from './store-contract';

interface Flavour {
  label: string;
  database(): Promise<{ url: string; drop(): Promise<void> }>;
}

const flavours: Flavour[] = [
  {
    label: 'sqlite',
    database: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tabsync-append-'));
      return { url: join(dir, 'sync.db'), drop: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  { label: 'postgres', database: createTestDatabase },
];

interface Running {
  sync: SyncServer;
  syncUrl: string;
  lines: string[];
}

for (const flavour of flavours) {
  describe(`server-side writes and onCommitted: ${flavour.label}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function database(): Promise<string> {
      const db = await flavour.database();
      cleanups.push(() => db.drop());
      return db.url;
    }

    /** A sync server attached to its own HTTP server on a free loopback port. */
    async function start(databaseUrl: string, options: SyncServerOptions = {}): Promise<Running> {
      const lines: string[] = [];
      const sync = await createSyncServer({ databaseUrl, logLevel: 'info', logSink: (line) => lines.push(line), ...options });
      const http: Server = createServer((_request, response) => response.end());
      sync.attach(http);
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      cleanups.push(async () => {
        await sync.close();
        http.closeAllConnections();
        await new Promise((resolve) => http.close(resolve));
      });
      return { sync, syncUrl: `ws://127.0.0.1:${(http.address() as AddressInfo).port}/sync`, lines };
    }

    async function login(running: Running): Promise<AuthedClient> {
      const client = await authed(running.syncUrl);
      cleanups.push(() => client.close());
      return client;
    }

    async function push(client: AuthedClient, events: SyncEvent[]): Promise<void> {
      client.send({ type: 'push_events_batch', repository: 'todos', events });
      await client.next('ack');
    }

    async function catchUp(client: AuthedClient): Promise<SequencedEvent[]> {
      const pages = await client.collect({ type: 'request_events', repository: 'todos' });
      return pages.flatMap((page) => page.events as SequencedEvent[]);
    }

    it('reaches a connected client as an events frame and a later client by catch-up, with server-assigned ids and sequences', async () => {
      const running = await start(await database());
      const client = await login(running);
      await push(client, [makeEvent('mine', 1)]);
      const records = [
        { id: 'a', title: 'from a job', tags: ['x'], nested: { n: 1.5, none: null } },
        { id: 'b', title: 'café ☕' },
      ];
      const stored = await running.sync.append('default', 'todos', records);

      assert.deepEqual(stored.map((e) => [e.dataId, e.operation, e.serverSequence]), [['a', Operation.insert, 2], ['b', Operation.insert, 3]]);
      assert.deepEqual(stored.map((e) => e.data), records, 'the records exactly');
      assert.equal(new Set(stored.map((e) => e.eventId)).size, 2, 'a fresh eventId each');
      const live = await client.next('events');
      assert.equal(live.repository, 'todos');
      assert.deepEqual(live.events, stored, 'the connected client gets them as stored');

      const later = await login(running);
      const caughtUp = await catchUp(later);
      assert.deepEqual(caughtUp.map((e) => e.dataId), ['mine', 'a', 'b']);
      assert.deepEqual(caughtUp.slice(1), stored);
    });

    it('removes records with a tombstone each, sent and caught up as deletes', async () => {
      const running = await start(await database());
      const client = await login(running);
      await running.sync.append('default', 'todos', [{ id: 'a', title: 'x' }, { id: 'b', title: 'y' }]);
      await client.next('events');
      const [tombstone] = await running.sync.remove('default', 'todos', ['a']);
      assert.deepEqual([tombstone?.dataId, tombstone?.operation, tombstone?.data], ['a', Operation.delete, undefined]);
      assert.deepEqual((await client.next('events')).events, [tombstone]);
      const winners = await catchUp(await login(running));
      assert.deepEqual(winners.map((e) => [e.dataId, e.operation]), [['b', Operation.insert], ['a', Operation.delete]]);
      // Written again after its delete, a record is inserted anew; a live one is updated.
      const again = await running.sync.append('default', 'todos', [{ id: 'a', title: 'back' }, { id: 'b', title: 'changed' }]);
      assert.deepEqual(again.map((e) => e.operation), [Operation.insert, Operation.update]);
    });

    it('wins the LWW order over what it replaces, even a client write dated ahead of the server clock or at the ceiling', async () => {
      const running = await start(await database());
      const client = await login(running);
      const ahead = makeEvent('ahead', 0, { createdAt: '2999-01-01T00:00:00.000Z' });
      const ceiling = makeEvent('ceiling', 0, { createdAt: MAX_TIMESTAMP, eventId: 'zzzz-client' });
      await push(client, [ahead, ceiling]);
      const [overAhead, overCeiling] = await running.sync.append('default', 'todos', [
        { id: 'ahead', by: 'server' },
        { id: 'ceiling', by: 'server' },
      ]);
      assert.equal(overAhead?.createdAt, '2999-01-01T00:00:00.001Z', 'one millisecond after the write it replaces');
      assert.equal(overCeiling?.createdAt, MAX_TIMESTAMP, 'at the ceiling it ties...');
      assert.ok(overCeiling!.eventId > ceiling.eventId, '...and wins by an eventId that sorts after');
      const winners = await catchUp(client);
      assert.deepEqual(winners.map((e) => [e.dataId, e.data?.['by']]), [['ahead', 'server'], ['ceiling', 'server']]);

      // A client that writes after seeing the server's write wins in turn (its clock is behind: it
      // dates its write after what it replaces, as the worker does).
      await push(client, [makeEvent('ahead', 0, { createdAt: '2999-01-01T00:00:00.002Z', data: { by: 'client' } })]);
      assert.deepEqual((await catchUp(client)).map((e) => [e.dataId, e.data?.['by']]), [['ceiling', 'server'], ['ahead', 'client']]);
    });

    it('onCommitted reports client pushes and server writes in order, with their origin; unsubscribing stops it', async () => {
      const running = await start(await database());
      const heard: CommittedEvents[] = [];
      const stop = running.sync.onCommitted((committed) => void heard.push(committed));
      const client = await login(running);
      const pushed = makeEvent('pushed', 1);
      await push(client, [pushed]);
      const [written] = await running.sync.append('default', 'notes', [{ id: 'n1', text: 'hello' }]);
      await waitFor(() => heard.length >= 2, 'two commits reported');
      assert.deepEqual(
        heard.flatMap(({ namespace, events }) => events.map((e) => [namespace, e.repository, e.event.eventId, e.event.serverSequence, e.origin])),
        [
          ['default', 'todos', pushed.eventId, 1, client.connectionId],
          ['default', 'notes', written?.eventId, 2, 'server'],
        ],
      );
      stop();
      stop(); // a second call is harmless
      await running.sync.append('default', 'notes', [{ id: 'n2', text: 'unheard' }]);
      await push(client, [makeEvent('unheard', 2)]);
      assert.equal(heard.length, 2, 'an unsubscribed listener hears nothing');
    });

    it('a listener that throws or rejects is logged and breaks nothing: other listeners, clients and writes go on', async () => {
      const running = await start(await database());
      running.sync.onCommitted(() => {
        throw new Error('listener broke');
      });
      running.sync.onCommitted(async () => {
        throw new Error('listener rejected');
      });
      const heard: number[] = [];
      running.sync.onCommitted(({ events }) => void heard.push(...events.map((e) => e.event.serverSequence)));
      const client = await login(running);
      const peer = await login(running);
      await push(client, [makeEvent('a', 1)]);
      await running.sync.append('default', 'todos', [{ id: 'b' }]);
      assert.deepEqual((await peer.next('events')).events.map((e) => e.dataId), ['a']);
      assert.deepEqual((await peer.next('events')).events.map((e) => e.dataId), ['b']);
      await waitFor(() => heard.length === 2, 'the healthy listener');
      const failures = () =>
        running.lines.map((line) => JSON.parse(line) as { level: string; msg: string; error?: { message: string } }).filter((l) => l.msg === 'onCommitted listener failed');
      await waitFor(() => failures().length === 4, 'four failures logged');
      assert.deepEqual(failures().map((f) => [f.level, f.error?.message]).sort(), [
        ['error', 'listener broke'],
        ['error', 'listener broke'],
        ['error', 'listener rejected'],
        ['error', 'listener rejected'],
      ]);
    });

    it('refuses bad records with a clear error and stores nothing', async () => {
      const running = await start(await database(), { maxMessageBytes: 4096, namespaceQuotaBytes: 2000 });
      const heard: CommittedEvents[] = [];
      running.sync.onCommitted((committed) => void heard.push(committed));
      const cycle: { id: string; [field: string]: unknown } = { id: 'cycle' };
      cycle['self'] = cycle;
      const refusals: [string, () => Promise<unknown>, RegExp][] = [
        ['a Date', () => running.sync.append('default', 'todos', [{ id: 'a', at: new Date() }]), /record 0: field at is a Date, which JSON does not bring back/],
        ['a BigInt', () => running.sync.append('default', 'todos', [{ id: 'a', n: 1n }]), /record 0: field n is a bigint/],
        ['a cycle', () => running.sync.append('default', 'todos', [cycle]), /record "cycle" cannot be written as JSON/],
        ['no id', () => running.sync.append('default', 'todos', [{ title: 'x' } as never]), /record 0 needs an id/],
        ['an empty id', () => running.sync.append('default', 'todos', [{ id: '' }]), /dataId is empty/],
        ['not a record', () => running.sync.append('default', 'todos', ['x' as never]), /record 0 must be an object with an id/],
        ['a lone surrogate', () => running.sync.append('default', 'todos', [{ id: 'a', text: '\ud800' }]), /well-formed Unicode/],
        ['a __proto__ key', () => running.sync.append('default', 'todos', [JSON.parse('{"id":"a","__proto__":{"x":1}}') as never]), /__proto__ keys are not allowed/],
        ['too large', () => running.sync.append('default', 'todos', [{ id: 'a', text: 'x'.repeat(5000) }]), /frame exceeds 4096 bytes/],
        ['one record twice', () => running.sync.append('default', 'todos', [{ id: 'a' }, { id: 'a' }]), /record "a" is written twice/],
        ['nothing', () => running.sync.append('default', 'todos', []), /at least one record/],
        ['too many', () => running.sync.append('default', 'todos', Array.from({ length: 501 }, (_, i) => ({ id: `r${i}` }))), /at most 500 records/],
        ['a bad repository', () => running.sync.append('default', '__proto__', [{ id: 'a' }]), /repository must match/],
        ['a bad namespace', () => running.sync.append('', 'todos', [{ id: 'a' }]), /namespace must not be empty/],
        ['a delete without an id', () => running.sync.remove('default', 'todos', [7 as never]), /id 0 must be a string/],
        ['past the quota', () => running.sync.append('default', 'todos', [{ id: 'a', text: 'x'.repeat(1000) }, { id: 'b', text: 'x'.repeat(1000) }]), /quota of 2000 bytes/],
      ];
      for (const [what, write, message] of refusals) {
        await assert.rejects(write(), (error: Error) => {
          assert.match(error.message, message, what);
          assert.match(error.name, /ServerWriteRefused|AppendRefused/, what);
          return true;
        });
      }
      // Nothing of it was stored, nor reported; a good write still goes through.
      const client = await login(running);
      assert.deepEqual(await catchUp(client), []);
      assert.equal(heard.length, 0);
      const [ok] = await running.sync.append('default', 'todos', [{ id: 'a', text: 'fine' }]);
      assert.equal(ok?.serverSequence, 1, 'the first event of the namespace: nothing before it was stored');
    });

    it("meets the app's schemas as a client's push does: a record the schema refuses is invalid_record and nothing is stored", async () => {
      const schemas = { todos: v.object({ id: v.string(), title: v.string() }) };
      const running = await start(await database(), { schemas });
      await assert.rejects(running.sync.append('default', 'todos', [{ id: 'a', title: 'fine' }, { id: 'b', title: 7 }]), (error: Error & { code?: string }) => {
        assert.equal(error.name, 'ServerWriteRefused');
        assert.equal(error.code, 'invalid_record');
        assert.match(error.message, /invalid todos record .*title/);
        return true;
      });
      assert.deepEqual(await catchUp(await login(running)), [], 'nothing of the refused write was stored');
      const [ok] = await running.sync.append('default', 'todos', [{ id: 'a', title: 'fine' }]);
      assert.equal(ok?.serverSequence, 1);
      // Repositories without a schema take any record, as pushes do.
      assert.equal((await running.sync.append('default', 'notes', [{ id: 'n', any: true }])).length, 1);
    });
  });
}

describe('server-side writes over PostgreSQL: several instances', () => {
  it("another instance's clients and change feed get a server-side write; a client push there reaches this one's feed", async () => {
    const db = await createTestDatabase();
    const servers: SyncServer[] = [];
    const https: Server[] = [];
    const clients: AuthedClient[] = [];
    try {
      const open = async () => {
        const sync = await createSyncServer({ databaseUrl: db.url, logLevel: 'silent' });
        const http = createServer((_request, response) => response.end());
        sync.attach(http);
        await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
        servers.push(sync);
        https.push(http);
        return { sync, syncUrl: `ws://127.0.0.1:${(http.address() as AddressInfo).port}/sync` };
      };
      const a = await open();
      const b = await open();
      const heardOnA: CommittedEvents[] = [];
      const heardOnB: CommittedEvents[] = [];
      a.sync.onCommitted((committed) => void heardOnA.push(committed));
      b.sync.onCommitted((committed) => void heardOnB.push(committed));
      const onB = await authed(b.syncUrl);
      clients.push(onB);

      const stored = await a.sync.append('default', 'todos', [{ id: 'job', title: 'from instance a' }]);
      assert.deepEqual((await onB.next('events')).events, stored, "a client of the other instance gets it live");
      await waitFor(() => heardOnB.length > 0, "the other instance's change feed");
      assert.deepEqual(heardOnB.flatMap((c) => c.events), [{ repository: 'todos', event: stored[0] }], 'read back from the log: no origin');

      const pushed = makeEvent('pushed-on-b', 1);
      onB.send({ type: 'push_event', repository: 'todos', event: pushed });
      await onB.next('ack');
      await waitFor(() => heardOnA.length >= 2, "instance a's change feed hears b's client");
      assert.deepEqual(
        heardOnA.flatMap((c) => c.events).map((e) => [e.event.dataId, e.event.serverSequence, e.origin]),
        [['job', 1, 'server'], ['pushed-on-b', 2, undefined]],
      );
    } finally {
      for (const client of clients) await client.close();
      for (const sync of servers) await sync.close();
      for (const http of https) {
        http.closeAllConnections();
        await new Promise((resolve) => http.close(resolve));
      }
      await db.drop();
    }
  });
});
