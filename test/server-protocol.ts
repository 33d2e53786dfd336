/**
 * The sync server's behaviour over its real port, through raw WebSocket clients and fetch.
 * Store-agnostic: each database flavour runs it with a factory of fresh databases.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { DEFAULT_PAGE_EVENTS, MAX_JSON_DEPTH, Operation, type SequencedEvent, type SyncEvent } from '../protocol';
import type { StartOptions } from '../server/app';
import type { ServerConfig } from '../server/config';
import { authed, refusedAsOrigin, TestClient, type ConnectOptions } from './helpers/client';
import { startTestServer, type TestServer } from './helpers/server';
import { makeEvent, sizeOf } from './store-contract';

export interface TestDatabaseFactory {
  (): Promise<{ url: string; drop(): Promise<void> }>;
}

const JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256';
const jwtKey = new TextEncoder().encode(JWT_SECRET);
const TOKENS = new Map([
  ['token-alpha', 'alpha'],
  ['token-beta', 'beta'],
]);

function jwt(claims: Record<string, unknown>, options: { subject?: string; expires?: string | number; key?: Uint8Array } = {}) {
  const token = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
  if (options.subject) token.setSubject(options.subject);
  token.setExpirationTime(options.expires ?? '1h');
  return token.sign(options.key ?? jwtKey);
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function runProtocolSuite(label: string, database: TestDatabaseFactory): void {
  describe(`sync server: ${label}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function start(overrides: Partial<ServerConfig> = {}, options?: StartOptions): Promise<TestServer> {
      const db = await database();
      cleanups.push(() => db.drop());
      const server = await startTestServer({ databaseUrl: db.url, ...overrides }, options);
      cleanups.push(() => server.stop());
      return server;
    }
    async function connect(server: TestServer, options?: ConnectOptions): Promise<TestClient> {
      const client = await TestClient.connect(server.syncUrl, options);
      cleanups.push(() => client.close());
      return client;
    }
    async function login(server: TestServer, token?: string) {
      const client = await authed(server.syncUrl, token);
      cleanups.push(() => client.close());
      return client;
    }
    async function push(client: TestClient, repository: string, events: SyncEvent[]) {
      client.send(events.length === 1 ? { type: 'push_event', repository, event: events[0] } : { type: 'push_events_batch', repository, events });
      return client.next('ack');
    }
    async function pushMany(client: TestClient, repository: string, events: SyncEvent[]) {
      for (let i = 0; i < events.length; i += 500) await push(client, repository, events.slice(i, i + 500));
    }
    /** Every compacted event of a repository, streamed. */
    async function allEvents(client: TestClient, repository: string): Promise<SequencedEvent[]> {
      const pages = await client.collect({ type: 'request_events', repository });
      return pages.flatMap((p) => p.events as SequencedEvent[]);
    }
    async function api(server: TestServer, path: string, token?: string) {
      const response = await fetch(server.url + path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      return { status: response.status, headers: response.headers, body: (await response.json()) as unknown };
    }

    describe('authentication', () => {
      it('dev mode: any auth succeeds as principal dev in namespace default, with a connection id', async () => {
        const server = await start();
        const a = await login(server);
        const b = await login(server, 'whatever');
        assert.equal(a.principal, 'dev');
        assert.equal(a.namespace, 'default');
        assert.match(a.connectionId, /.{8,}/);
        assert.notEqual(a.connectionId, b.connectionId, 'each socket has its own id');
      });

      it('before auth_success only auth and ping are processed; nothing else is stored or answered', async () => {
        const server = await start({ authTokens: TOKENS });
        const client = await connect(server);
        client.send({ type: 'ping' });
        assert.deepEqual(await client.next(), { type: 'pong' });
        const requests = [
          { type: 'push_event', repository: 'todos', event: makeEvent('a', 1) },
          { type: 'push_events_batch', repository: 'todos', events: [makeEvent('b', 1)] },
          { type: 'request_events', repository: 'todos' },
          { type: 'request_all_events' },
          { type: 'events_received', repository: 'todos', count: 1 },
        ];
        for (const request of requests) {
          client.send(request);
          const reply = await client.next();
          assert.equal(reply.type, 'error');
          assert.equal(reply.type === 'error' && reply.code, 'unauthenticated', `${request.type} before auth`);
        }
        client.send({ type: 'auth', token: 'token-alpha' });
        assert.equal((await client.next()).type, 'auth_success');
        assert.equal(await server.store.maxSequence('alpha'), 0, 'nothing pushed before auth was stored');
        assert.deepEqual(await allEvents(client, 'todos'), []);
      });

      it('a bad token gets auth_failed and the connection stays open to retry', async () => {
        const server = await start({ authTokens: TOKENS });
        const client = await connect(server);
        for (const auth of [{ type: 'auth', token: 'nope' }, { type: 'auth' }, { type: 'auth', headers: { Authorization: 'Bearer nope' } }]) {
          client.send(auth);
          const reply = await client.next('error');
          assert.equal(reply.code, 'auth_failed');
        }
        client.send({ type: 'push_event', repository: 'todos', event: makeEvent('a', 1) });
        assert.equal((await client.next('error')).code, 'unauthenticated');
        client.send({ type: 'auth', headers: { authorization: 'Bearer token-alpha' } });
        const success = await client.next('auth_success');
        assert.equal(success.namespace, 'alpha');
      });

      it('takes the token from the upgrade request when the auth message carries none', async () => {
        const server = await start({ authTokens: TOKENS });
        const client = await connect(server, { headers: { Authorization: 'Bearer token-beta' } });
        client.send({ type: 'auth' });
        assert.equal((await client.next('auth_success')).namespace, 'beta');
      });

      it('re-authenticates in place: same connection id, a new namespace moves it, a bad token drops it', async () => {
        const server = await start({ authTokens: TOKENS });
        const client = await login(server, 'token-alpha');
        await push(client, 'todos', [makeEvent('in-alpha', 1)]);

        client.send({ type: 'auth', token: 'token-beta' });
        const moved = await client.next('auth_success');
        assert.equal(moved.connectionId, client.connectionId, 'no reconnect happened');
        assert.equal(moved.namespace, 'beta');
        assert.deepEqual(await allEvents(client, 'todos'), [], 'beta does not see alpha');
        await push(client, 'todos', [makeEvent('in-beta', 2)]);
        assert.deepEqual((await server.store.repositories('beta')).map((r) => r.events), [1]);

        client.send({ type: 'auth', token: 'revoked' });
        assert.equal((await client.next('error')).code, 'auth_failed');
        client.send({ type: 'request_events', repository: 'todos' });
        assert.equal((await client.next('error')).code, 'unauthenticated');
        assert.equal(client.socket.readyState, client.socket.OPEN);
      });

      it('verifies HS256 JWTs: namespace and principal from claims; bad signature, expired, or missing claims refused', async () => {
        const server = await start({ jwtSecret: JWT_SECRET });
        const alice = await login(server, await jwt({ namespace: 'team-a' }, { subject: 'alice' }));
        assert.equal(alice.principal, 'alice');
        assert.equal(alice.namespace, 'team-a');
        const bob = await login(server, await jwt({ ns: 'team-b' }, { subject: 'bob' }));
        assert.equal(bob.namespace, 'team-b');

        const refused = [
          await jwt({ namespace: 'team-a' }, { subject: 'mallory', key: new TextEncoder().encode('another-secret-of-enough-length!!') }),
          await jwt({ namespace: 'team-a' }, { subject: 'alice', expires: Math.floor(Date.now() / 1000) - 10 }),
          await jwt({}, { subject: 'alice' }),
          'not.a.jwt',
        ];
        const client = await connect(server);
        for (const token of refused) {
          client.send({ type: 'auth', token });
          assert.equal((await client.next('error')).code, 'auth_failed');
        }
        client.send({ type: 'auth', token: refused[1] });
        assert.match((await client.next('error')).message, /expired/);
      });

      it('refuses JWT claims that are no identifier: a sub or namespace that is a number, object, array, empty, or holds a lone surrogate or U+0000', async () => {
        const server = await start({ jwtSecret: JWT_SECRET, maxConnectionsPerPrincipal: 2 });
        const client = await connect(server);
        const claims: Record<string, unknown>[] = [
          ...[7, { id: 'alice' }, ['alice'], true, null, '', 'a\ud800', '\udfff', 'a\u0000b', 'x'.repeat(257)].map((sub) => ({ namespace: 'team-a', sub })),
          ...[7, { ns: 'team-a' }, ['team-a'], '\ud800', '\udfff', 'team\u0000a'].map((namespace) => ({ namespace, sub: 'alice' })),
        ];
        for (const claim of claims) {
          client.send({ type: 'auth', token: await jwt(claim) });
          const reply = await client.next();
          assert.equal(reply.type === 'error' && reply.code, 'auth_failed', `claims ${JSON.stringify(claim)} refused`);
        }
        // A numeric sub used to get past the per-principal cap: none of these sockets authenticates.
        const numeric = await jwt({ namespace: 'team-a', sub: 7 });
        for (let i = 0; i < 3; i++) await assert.rejects(authed(server.syncUrl, numeric), /auth_failed/);
        const token = await jwt({ namespace: 'team-a' }, { subject: 'alice' });
        await login(server, token);
        await login(server, token);
        const third = await connect(server);
        third.send({ type: 'auth', token });
        assert.equal((await third.next('error')).code, 'rate_limited', 'the cap holds for a string sub');
      });

      it('keeps namespaces that differ by any code point apart, and refuses a static namespace that is no identifier', async () => {
        const names = ['\ufffd', '\u00e9', 'e\u0301', '\u{1F600}', 'a b', 'A'];
        const server = await start({ jwtSecret: JWT_SECRET });
        for (const [i, namespace] of names.entries()) {
          const client = await login(server, await jwt({ namespace }, { subject: `user${i}` }));
          assert.equal(client.namespace, namespace);
          await push(client, 'todos', [makeEvent(`only-${i}`, i)]);
        }
        for (const [i, namespace] of names.entries()) {
          const client = await login(server, await jwt({ namespace }, { subject: `reader${i}` }));
          assert.deepEqual((await allEvents(client, 'todos')).map((e) => e.dataId), [`only-${i}`], `namespace ${JSON.stringify(namespace)} holds its own event only`);
        }
        for (const namespace of ['\ud800', 'a\u0000']) {
          await assert.rejects(start({ authTokens: new Map([['token', namespace]]) }), /AUTH_TOKENS: a namespace/);
        }
      });

      it('drops the authentication of a connection when its JWT expires', async () => {
        const server = await start({ jwtSecret: JWT_SECRET });
        // exp has one-second resolution: +2 s leaves at least one second to log in.
        const client = await login(server, await jwt({ namespace: 'team-a' }, { subject: 'alice', expires: Math.floor(Date.now() / 1000) + 2 }));
        const expired = await client.next('error', 4000);
        assert.equal(expired.code, 'auth_failed');
        assert.match(expired.message, /expired/);
        client.send({ type: 'push_event', repository: 'todos', event: makeEvent('late', 1) });
        assert.equal((await client.next('error')).code, 'unauthenticated');
        assert.equal(await server.store.maxSequence('team-a'), 0);
      });

      it('limits authenticated connections per principal', async () => {
        const server = await start({ authTokens: TOKENS, maxConnectionsPerPrincipal: 2 });
        const first = await login(server, 'token-alpha');
        await login(server, 'token-alpha');
        await login(server, 'token-beta');
        const third = await connect(server);
        third.send({ type: 'auth', token: 'token-alpha' });
        assert.equal((await third.next('error')).code, 'rate_limited');
        assert.equal(await third.closeCode(), 1008);
        await first.close();
        await login(server, 'token-alpha');
      });

      it('never logs a token', async () => {
        const lines: string[] = [];
        const server = await start({ authTokens: TOKENS, logLevel: 'debug' }, { logSink: (line) => lines.push(line) });
        const client = await login(server, 'token-alpha');
        client.send({ type: 'auth', token: 'secret-wrong-token' });
        await client.next('error');
        await client.close();
        await server.stop();
        const log = lines.join('\n');
        assert.match(log, /connection opened/);
        assert.match(log, /auth failed/);
        assert.match(log, /connection closed/);
        assert.doesNotMatch(log, /token-alpha|secret-wrong-token/);
      });
    });

    describe('messages', () => {
      it('answers ping with pong and accepts pong and events_received silently', async () => {
        const server = await start();
        const client = await login(server);
        client.send({ type: 'pong' });
        client.send({ type: 'events_received', repository: 'todos', count: 3 });
        client.send({ type: 'ping' });
        assert.deepEqual(await client.next(), { type: 'pong' });
        await client.nothing(undefined, 200);
      });

      it('acks a push after storing it; a duplicate is acked again and stored once', async () => {
        const server = await start();
        const client = await login(server);
        const event = makeEvent('a', 1);
        const ack = await push(client, 'todos', [event]);
        assert.deepEqual(ack, { type: 'ack', eventIds: [event.eventId], repositories: { todos: [event.eventId] } });
        assert.deepEqual(await push(client, 'todos', [event]), ack);
        const stored = await allEvents(client, 'todos');
        assert.equal(stored.length, 1);
        assert.equal(stored[0]?.eventId, event.eventId);
        assert.equal(stored[0]?.serverSequence, 1);
        assert.equal(await server.store.maxSequence('default'), 1);
      });

      it('acks a batch with every id and assigns increasing sequences in order', async () => {
        const server = await start();
        const client = await login(server);
        const events = [makeEvent('a', 3), makeEvent('b', 1), makeEvent('c', 2)];
        const ack = await push(client, 'todos', events);
        assert.deepEqual(ack.eventIds, events.map((e) => e.eventId));
        assert.deepEqual(ack.repositories, { todos: events.map((e) => e.eventId) });
        const stored = await allEvents(client, 'todos');
        assert.deepEqual(stored.map((e) => e.eventId), events.map((e) => e.eventId));
        assert.deepEqual(stored.map((e) => e.serverSequence), [1, 2, 3]);
      });

      it('request_events with a limit sends one page; sync_complete only after the last', async () => {
        const server = await start();
        const client = await login(server);
        const events = Array.from({ length: 25 }, (_, i) => makeEvent(`r${i}`, i));
        await push(client, 'todos', events);

        const received: SequencedEvent[] = [];
        let after = 0;
        for (let page = 0; ; page++) {
          client.send({ type: 'request_events', repository: 'todos', afterSequence: after, limit: 10 });
          const reply = await client.next('events');
          assert.ok(reply.events.length <= 10);
          received.push(...(reply.events as SequencedEvent[]));
          if (!reply.hasMore) {
            assert.deepEqual(await client.next(), { type: 'sync_complete', repository: 'todos' });
            assert.equal(page, 2);
            break;
          }
          await client.nothing('sync_complete', 100);
          after = received.at(-1)!.serverSequence;
        }
        assert.deepEqual(received.map((e) => e.eventId), events.map((e) => e.eventId));
      });

      it('request_events without a limit streams every page, then sync_complete', async () => {
        const server = await start();
        const client = await login(server);
        const total = DEFAULT_PAGE_EVENTS * 2 + 37;
        const events = Array.from({ length: total }, (_, i) => makeEvent(`r${i}`, i));
        await pushMany(client, 'todos', events);
        const pages = await client.collect({ type: 'request_events', repository: 'todos' });
        assert.deepEqual(pages.map((p) => p.events.length), [DEFAULT_PAGE_EVENTS, DEFAULT_PAGE_EVENTS, 37]);
        assert.deepEqual(pages.map((p) => p.hasMore), [true, true, false]);
        const sequences = pages.flatMap((p) => p.events.map((e) => e.serverSequence!));
        assert.deepEqual(sequences, Array.from({ length: total }, (_, i) => i + 1), 'nothing lost, nothing repeated, in order');

        const rest = await client.collect({ type: 'request_events', repository: 'todos', afterSequence: total - 5 });
        assert.deepEqual(rest.flatMap((p) => p.events.map((e) => e.serverSequence)), [total - 4, total - 3, total - 2, total - 1, total]);
      });

      it('a page of large records is cut to maxPageBytes: every frame fits, nothing is skipped, with or without a limit', async () => {
        const maxPageBytes = 64 * 1024;
        const server = await start({ maxPageBytes });
        const client = await login(server);
        // 40 records of ~10 KB: 400 KB, far above one page's bytes, far below its 500 events.
        const events = Array.from({ length: 40 }, (_, i) => makeEvent(`big${i}`, i, { data: { dataId: `big${i}`, blob: 'x'.repeat(10_000) } }));
        await pushMany(client, 'todos', events);

        const pages = await client.collect({ type: 'request_events', repository: 'todos' });
        assert.ok(pages.length > 1, `cut into several pages (got ${pages.length})`);
        for (const page of pages) assert.ok(Buffer.byteLength(JSON.stringify(page)) <= maxPageBytes, 'each page within maxPageBytes');
        assert.deepEqual(pages.map((p) => p.hasMore), [...pages.slice(1).map(() => true), false]);
        const sequences = pages.flatMap((p) => p.events.map((e) => e.serverSequence));
        assert.deepEqual(sequences, Array.from({ length: 40 }, (_, i) => i + 1), 'nothing lost, nothing repeated, in order');

        // With a limit: one reply, cut short with hasMore, then the client asks on from its last event.
        client.send({ type: 'request_events', repository: 'todos', limit: 40 });
        const first = await client.next('events');
        assert.ok(first.hasMore === true && first.events.length < 40, 'the limited page is cut short too');
        assert.ok(Buffer.byteLength(JSON.stringify(first)) <= maxPageBytes);
      });

      it('request_all_events streams each repository with its sync_complete, then a final sync_complete', async () => {
        const server = await start();
        const client = await login(server);
        await push(client, 'todos', [makeEvent('t1', 1), makeEvent('t2', 2)]);
        await push(client, 'notes', [makeEvent('n1', 3)]);
        client.send({ type: 'request_all_events' });
        const seen: string[] = [];
        for (;;) {
          const message = await client.next();
          if (message.type === 'events') seen.push(...message.events.map((e) => `${message.repository}/${e.dataId}`));
          else if (message.type === 'sync_complete' && message.repository) seen.push(`done ${message.repository}`);
          else if (message.type === 'sync_complete') break;
          else assert.fail(`unexpected ${message.type}`);
        }
        assert.deepEqual(seen.sort(), ['done notes', 'done todos', 'notes/n1', 'todos/t1', 'todos/t2']);

        client.send({ type: 'request_all_events', repository: 'notes' });
        const only = await client.next('events');
        assert.equal(only.repository, 'notes');
        assert.deepEqual(await client.next(), { type: 'sync_complete', repository: 'notes' });
        assert.deepEqual(await client.next(), { type: 'sync_complete' });
      });

      it('compacts by last-writer-wins: an older event arriving last does not win', async () => {
        const server = await start();
        const client = await login(server);
        const newer = makeEvent('r1', 10, { data: { title: 'newer' } });
        const older = makeEvent('r1', 5, { data: { title: 'older' } });
        await push(client, 'todos', [newer]);
        await push(client, 'todos', [older]);
        const events = await allEvents(client, 'todos');
        assert.deepEqual(events.map((e) => e.data), [{ title: 'newer' }]);
        // The older event holds sequence 2, yet a client past the winner (sequence 1) gets nothing.
        assert.deepEqual(await client.collect({ type: 'request_events', repository: 'todos', afterSequence: 1 }), [
          { type: 'events', repository: 'todos', events: [], hasMore: false },
        ]);
      });

      it('keeps a delete as the record\'s winner and filters by since', async () => {
        const server = await start();
        const client = await login(server);
        await push(client, 'todos', [makeEvent('gone', 1), makeEvent('kept', 2)]);
        await push(client, 'todos', [makeEvent('gone', 10, { operation: Operation.delete, data: undefined })]);
        const events = await allEvents(client, 'todos');
        assert.deepEqual(events.map((e) => [e.dataId, e.operation]), [['kept', Operation.update], ['gone', Operation.delete]]);
        const since = makeEvent('x', 5).createdAt;
        const recent = await client.collect({ type: 'request_events', repository: 'todos', since });
        assert.deepEqual(recent.flatMap((p) => p.events.map((e) => e.dataId)), ['gone']);
      });

      it('answers internal when the store fails, with no ack, and recovers', async () => {
        const server = await start();
        const client = await login(server);
        const append = server.store.append;
        server.store.append = () => Promise.reject(new Error('disk full'));
        const event = makeEvent('a', 1);
        client.send({ type: 'push_event', repository: 'todos', event });
        assert.equal((await client.next('error')).code, 'internal');
        await client.nothing('ack', 200);
        server.store.append = append;
        assert.deepEqual((await push(client, 'todos', [event])).eventIds, [event.eventId]);
      });
    });

    describe('fan-out', () => {
      it('sends committed events to the namespace\'s other connections, not to the sender nor other namespaces', async () => {
        const server = await start({ authTokens: TOKENS });
        const sender = await login(server, 'token-alpha');
        const peer = await login(server, 'token-alpha');
        const stranger = await login(server, 'token-beta');
        const events = [makeEvent('a', 1), makeEvent('b', 2)];
        await push(sender, 'todos', events);
        await push(sender, 'notes', [makeEvent('n', 3)]);

        const todos = await peer.next('events');
        assert.equal(todos.repository, 'todos');
        assert.deepEqual(todos.events.map((e) => [e.eventId, e.serverSequence]), [[events[0]!.eventId, 1], [events[1]!.eventId, 2]]);
        assert.equal(todos.hasMore, undefined);
        const notes = await peer.next('events');
        assert.equal(notes.repository, 'notes');
        assert.equal(notes.events[0]?.serverSequence, 3);

        await sender.nothing('events', 300);
        await stranger.nothing('events', 0);

        await push(peer, 'todos', [makeEvent('c', 4)]);
        assert.equal((await sender.next('events')).events[0]?.dataId, 'c', 'and the other way round');
      });

      it('broadcasts events committed outside any connection (another instance writing the same store)', async () => {
        const server = await start();
        const client = await login(server);
        await server.store.append('default', 'todos', [makeEvent('from-elsewhere', 1)]);
        const message = await client.next('events');
        assert.deepEqual(message.events.map((e) => e.dataId), ['from-elsewhere']);
        await server.store.append('elsewhere', 'todos', [makeEvent('other-namespace', 1)]);
        await client.nothing('events', 200);
      });

      it('a duplicate push is not broadcast again', async () => {
        const server = await start();
        const sender = await login(server);
        const peer = await login(server);
        const event = makeEvent('a', 1);
        await push(sender, 'todos', [event]);
        await peer.next('events');
        await push(sender, 'todos', [event]);
        await peer.nothing('events', 200);
      });
    });

    describe('REST and HTTP', () => {
      it('reports health', async () => {
        const server = await start();
        await login(server);
        await connect(server);
        const { status, body } = await api(server, '/api/health');
        assert.equal(status, 200);
        const { memory, ...rest } = body as { memory: { rssBytes: number; heapUsedBytes: number } };
        assert.deepEqual({ ...rest, uptimeSeconds: 0 }, {
          status: 'ok',
          database: server.store.kind,
          activeConnections: 2,
          uptimeSeconds: 0,
          sendBufferBytes: 0,
        });
        assert.equal(typeof (body as { uptimeSeconds: unknown }).uptimeSeconds, 'number');
        // The process's memory: the heap in use is part of its resident set.
        assert.deepEqual(Object.keys(memory).sort(), ['heapUsedBytes', 'rssBytes']);
        assert.ok(memory.heapUsedBytes > 0 && memory.heapUsedBytes < memory.rssBytes, JSON.stringify(memory));
      });

      it('lists repositories and events of the caller\'s namespace only; 401 without a valid token', async () => {
        const server = await start({ authTokens: TOKENS });
        const alpha = await login(server, 'token-alpha');
        await push(alpha, 'todos', [makeEvent('a', 1), makeEvent('b', 2), makeEvent('a', 3)]);

        assert.deepEqual((await api(server, '/api/repositories', 'token-alpha')).body, [{ name: 'todos', events: 3, maxSequence: 3 }]);
        assert.deepEqual((await api(server, '/api/repositories', 'token-beta')).body, []);
        assert.deepEqual((await api(server, '/api/events/todos', 'token-beta')).body, { events: [], hasMore: false });
        for (const path of ['/api/repositories', '/api/events/todos']) {
          assert.equal((await api(server, path)).status, 401);
          assert.equal((await api(server, path, 'forged')).status, 401);
        }

        const page = await api(server, '/api/events/todos?afterSequence=0&limit=1', 'token-alpha');
        alpha.send({ type: 'request_events', repository: 'todos', afterSequence: 0, limit: 1 });
        const { type: _, repository: __, ...overWebSocket } = await alpha.next('events');
        assert.deepEqual(page.body, overWebSocket, 'REST gives what request_events gives');
        assert.deepEqual(
          ((await api(server, '/api/events/todos?afterSequence=2', 'token-alpha')).body as { events: SequencedEvent[] }).events.map((e) => e.dataId),
          ['a'],
        );
        for (const query of ['?limit=0', '?limit=abc', '?afterSequence=-1', '?since=yesterday']) {
          assert.equal((await api(server, '/api/events/todos' + query, 'token-alpha')).status, 400, query);
        }
        assert.equal((await api(server, '/api/events/bad%20name', 'token-alpha')).status, 400);
      });

      it('serves the demo with content types and a CSP, refuses traversal, answers 404 and 405 in JSON', async () => {
        const server = await start();
        const publicDir = join(server.dir, 'public');
        mkdirSync(join(publicDir, 'assets'), { recursive: true });
        writeFileSync(join(publicDir, 'index.html'), '<!doctype html><title>demo</title>');
        writeFileSync(join(publicDir, 'assets', 'app.js'), 'console.log(1)');
        writeFileSync(join(server.dir, 'secret.txt'), 'top secret');

        const index = await fetch(server.url + '/');
        assert.equal(index.status, 200);
        assert.match(index.headers.get('content-type') ?? '', /^text\/html/);
        assert.match(index.headers.get('content-security-policy') ?? '', /default-src 'self'.*connect-src 'self' ws: wss:.*script-src 'self'.*worker-src 'self'/);
        assert.equal(await index.text(), '<!doctype html><title>demo</title>');
        const script = await fetch(server.url + '/assets/app.js');
        assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
        assert.equal(script.headers.get('content-security-policy'), index.headers.get('content-security-policy'), 'every response has the CSP');

        for (const path of ['/../secret.txt', '/..%2fsecret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/%00']) {
          const { status, body } = await rawGet(server.port, path);
          assert.equal(status, 404, path);
          assert.doesNotMatch(body, /top secret/);
        }
        const missing = await api(server, '/nowhere.js');
        assert.equal(missing.status, 404);
        assert.equal((missing.body as { error: string }).error, 'not_found');
        assert.equal((await api(server, '/api/unknown')).status, 404);
        const post = await fetch(server.url + '/api/health', { method: 'POST' });
        assert.equal(post.status, 405);
        assert.equal(((await post.json()) as { error: string }).error, 'method_not_allowed');
      });

      it('accepts WebSocket upgrades at /sync only', async () => {
        const server = await start();
        await assert.rejects(TestClient.connect(server.url.replace('http', 'ws') + '/other'), /404/);
      });
    });

    describe('bad input', () => {
      const valid = makeEvent('valid', 1);
      const other = makeEvent('other', 1);
      // `eventIds`: a push refused for what it holds names its events, so that a client can set them aside.
      const cases: { name: string; frame: string | Buffer; binary?: boolean; code: string; message?: RegExp; eventIds?: string[] }[] = [
        { name: 'invalid JSON', frame: '{"type":"push_event",', code: 'invalid_message', message: /JSON/ },
        { name: 'a JSON value that is not a message', frame: '[1,2,3]', code: 'invalid_message' },
        { name: 'an unknown type', frame: JSON.stringify({ type: 'drop_tables' }), code: 'invalid_message', message: /type/ },
        {
          name: 'a wrong field type',
          frame: JSON.stringify({ type: 'push_event', repository: 'todos', event: { ...valid, operation: 'update' } }),
          code: 'invalid_message',
          message: /operation/,
          eventIds: [valid.eventId],
        },
        {
          name: 'a batch with one bad event',
          frame: JSON.stringify({ type: 'push_events_batch', repository: 'todos', events: [other, { ...valid, operation: 9 }] }),
          code: 'invalid_message',
          eventIds: [other.eventId, valid.eventId],
        },
        {
          name: 'a bad eventId',
          frame: JSON.stringify({ type: 'push_event', repository: 'todos', event: { ...valid, eventId: 'no spaces allowed' } }),
          code: 'invalid_message',
          message: /eventId/,
        },
        {
          name: 'a non-canonical createdAt',
          frame: JSON.stringify({ type: 'push_event', repository: 'todos', event: { ...valid, createdAt: '2024-01-01' } }),
          code: 'invalid_message',
          message: /createdAt/,
          eventIds: [valid.eventId],
        },
        {
          name: 'an invalid repository name',
          frame: JSON.stringify({ type: 'push_event', repository: '../etc', event: valid }),
          code: 'invalid_message',
          message: /repository/,
          eventIds: [valid.eventId],
        },
        {
          name: 'deep nesting',
          frame: JSON.stringify({ type: 'push_event', repository: 'todos', event: { ...valid, data: nested(MAX_JSON_DEPTH + 5) } }),
          code: 'invalid_message',
          message: /nested/,
        },
        {
          name: 'a __proto__ key',
          frame: `{"type":"push_event","repository":"todos","event":${JSON.stringify(valid).replace('"data":{', '"data":{"__proto__":{"admin":true},')}}`,
          code: 'invalid_message',
          message: /__proto__/,
          eventIds: [valid.eventId],
        },
        {
          name: 'an array as data',
          frame: JSON.stringify({ type: 'push_event', repository: 'todos', event: { ...valid, data: ['a', 'b'] } }),
          code: 'invalid_message',
          message: /data must be a JSON object/,
          eventIds: [valid.eventId],
        },
        ...['1e400', '-1e400', '1' + '0'.repeat(400)].map((number) => ({
          name: `a number out of range (${number.slice(0, 8)})`,
          frame: JSON.stringify({ type: 'push_events_batch', repository: 'todos', events: [other, { ...valid, data: { n: 0, deep: [1] } }] }).replace('[1]', `[${number}]`),
          code: 'invalid_message',
          message: /not finite/,
          eventIds: [other.eventId, valid.eventId],
        })),
        ...['2026-02-31T00:00:00.000Z', '2026-13-01T00:00:00.000Z', '2026-01-01T24:00:00.000Z', '2026-01-01T23:60:00.000Z', '+010000-01-01T00:00:00.000Z', '10000-01-01T00:00:00.000Z'].map((createdAt) => ({
          name: `a createdAt that is no real instant or past 9999 (${createdAt})`,
          frame: JSON.stringify({ type: 'push_event', repository: 'todos', event: { ...valid, createdAt } }),
          code: 'invalid_message',
          message: /createdAt/,
          eventIds: [valid.eventId],
        })),
        { name: 'a binary frame', frame: Buffer.from(JSON.stringify({ type: 'ping' })), binary: true, code: 'invalid_message', message: /binary/ },
      ];
      for (const { name, frame, binary, code, message, eventIds } of cases) {
        it(`answers ${name} with ${code}, stores nothing, and keeps serving`, async () => {
          const server = await start();
          const client = await login(server);
          client.sendRaw(frame, binary);
          const error = await client.next('error');
          assert.equal(error.code, code);
          if (message) assert.match(error.message, message);
          assert.deepEqual(error.eventIds, eventIds);
          await push(client, 'todos', [makeEvent('after', 2)]);
          const stored = await allEvents(client, 'todos');
          assert.deepEqual(stored.map((e) => e.dataId), ['after'], 'only the good message was stored');
          assert.equal((Object.prototype as Record<string, unknown>)['admin'], undefined, 'no prototype was polluted');
        });
      }

      it('stores data exactly as pushed: constructor and prototype keys, nested values, edge numbers and strings come back equal', async () => {
        const server = await start();
        const writer = await login(server);
        const reader = await login(server);
        const data: Record<string, unknown> = {
          constructor: 'kept',
          prototype: { constructor: { prototype: 1 } },
          toString: 'not a function',
          hasOwnProperty: null,
          list: [0, -1, 0.1, 1e21, 5e-324, 1.7976931348623157e308, Number.MAX_SAFE_INTEGER + 2, [], {}, [[]], true, false, null],
          text: 'é e\u0301 \u{1F600} \ufffd "quoted" \\ \n\t \u2028',
          empty: '',
          nested: { constructor: [{ prototype: 'deep' }] },
        };
        const event = makeEvent('exact', 1, { data });
        assert.deepEqual((await push(writer, 'todos', [event])).eventIds, [event.eventId]);
        const [broadcast] = (await reader.next('events')).events;
        assert.deepStrictEqual(broadcast?.data, data, 'the broadcast carries it exactly');
        const [stored] = await allEvents(reader, 'todos');
        assert.deepStrictEqual(stored?.data, data, 'catch-up gives back exactly what was acked');
        const rest = (await api(server, '/api/events/todos')).body as { events: SequencedEvent[] };
        assert.deepStrictEqual(rest.events[0]?.data, data, 'and so does REST');
      });

      it('refuses a push naming an eventId already stored in another repository: no ack, the push named, nothing of it stored', async () => {
        const server = await start();
        const client = await login(server);
        const event = makeEvent('a', 1);
        await push(client, 'todos', [event]);
        const fresh = makeEvent('b', 2);
        client.send({ type: 'push_events_batch', repository: 'notes', events: [fresh, event] });
        const error = await client.next('error');
        assert.equal(error.code, 'event_id_conflict');
        assert.match(error.message, /already stored in repository todos/);
        assert.deepEqual(error.eventIds, [fresh.eventId, event.eventId]);
        await client.nothing('ack', 100);
        assert.deepEqual(await allEvents(client, 'notes'), []);
        assert.deepEqual((await allEvents(client, 'todos')).map((e) => e.eventId), [event.eventId]);
        assert.deepEqual((await push(client, 'todos', [event])).eventIds, [event.eventId], 'a duplicate in its own repository is acked as before');
      });

      it('refuses a push that would pass the namespace quota with quota_exceeded naming its events, exact to the byte and across a restart', async () => {
        const kept = [makeEvent('a', 1, { data: { text: 'x'.repeat(300) } }), makeEvent('b', 2)];
        const refused = [makeEvent('c', 3), makeEvent('d', 4, { data: { text: 'y'.repeat(300) } })];
        const namespaceQuotaBytes = sizeOf('todos', kept) + sizeOf('todos', refused) - 1;
        const db = await database();
        cleanups.push(() => db.drop());
        const first = await startTestServer({ databaseUrl: db.url, namespaceQuotaBytes });
        cleanups.push(() => first.stop());
        const client = await authed(first.syncUrl);
        await push(client, 'todos', kept);
        client.send({ type: 'push_events_batch', repository: 'todos', events: refused });
        const error = await client.next('error');
        assert.equal(error.code, 'quota_exceeded');
        assert.match(error.message, new RegExp(`quota of ${namespaceQuotaBytes} bytes`));
        assert.deepEqual(error.eventIds, refused.map((e) => e.eventId));
        assert.deepEqual((await allEvents(client, 'todos')).map((e) => e.dataId), ['a', 'b'], 'nothing of the refused push was stored');
        await client.close();
        await first.stop();

        // The same database, restarted: the usage was kept, to the byte.
        const again = await startTestServer({ databaseUrl: db.url, namespaceQuotaBytes });
        cleanups.push(() => again.stop());
        const later = await authed(again.syncUrl);
        cleanups.push(() => later.close());
        later.send({ type: 'push_events_batch', repository: 'todos', events: refused });
        assert.equal((await later.next('error')).code, 'quota_exceeded');
        await again.stop();
        const roomier = await startTestServer({ databaseUrl: db.url, namespaceQuotaBytes: namespaceQuotaBytes + 1 });
        cleanups.push(() => roomier.stop());
        const last = await authed(roomier.syncUrl);
        cleanups.push(() => last.close());
        assert.deepEqual((await push(last, 'todos', refused)).eventIds, refused.map((e) => e.eventId), 'one more byte of quota takes it');
      });

      it('limits the bytes a connection sends: frames past its budget are dropped with rate_limited, only acked ones stored', async () => {
        // No refill to speak of (1 byte/s): exactly the frames that fit in the burst pass, whatever the machine's speed.
        const events = sameSizeEvents(8);
        const frameBytes = Buffer.byteLength(JSON.stringify({ type: 'push_event', repository: 'todos', event: events[0] }));
        const server = await start({ connectionByteRate: { perSecond: 1, burst: frameBytes * 3 + frameBytes / 2 } });
        const client = await login(server);
        const replies = await pushEach(client, events);
        assert.deepEqual(replies, ['ack', 'ack', 'ack', 'rate_limited', 'rate_limited', 'rate_limited', 'rate_limited', 'rate_limited']);
        assert.equal(await server.store.maxSequence('default'), 3, 'the dropped frames stored nothing');
        const fresh = await login(server);
        assert.deepEqual(await pushEach(fresh, events.slice(3, 4)), ['ack'], 'another connection has its own budget');
      });

      it('limits the bytes a principal sends over all its connections together', async () => {
        const events = sameSizeEvents(8);
        const frameBytes = Buffer.byteLength(JSON.stringify({ type: 'push_event', repository: 'todos', event: events[0] }));
        const server = await start({ authTokens: TOKENS, principalByteRate: { perSecond: 1, burst: frameBytes * 4 + frameBytes / 2 } });
        const first = await login(server, 'token-alpha');
        const second = await login(server, 'token-alpha');
        const replies = [...(await pushEach(first, events.slice(0, 3))), ...(await pushEach(second, events.slice(3, 6)))];
        assert.deepEqual(replies, ['ack', 'ack', 'ack', 'ack', 'rate_limited', 'rate_limited']);
        await first.close();
        await second.close();
        const reconnected = await login(server, 'token-alpha');
        assert.deepEqual(await pushEach(reconnected, events.slice(6, 7)), ['rate_limited'], 'reconnecting hands out no fresh budget');
        const beta = await login(server, 'token-beta');
        assert.deepEqual(await pushEach(beta, events.slice(7)), ['ack'], 'another principal has its own');
        assert.equal(await server.store.maxSequence('alpha'), 4);
      });

      it('answers an oversize frame with too_large and closes 1009; a far larger one is cut by the socket', async () => {
        const maxMessageBytes = 2048;
        const server = await start({ maxMessageBytes });
        const client = await login(server);
        assert.equal(client.maxMessageBytes, maxMessageBytes, 'auth_success says how large a frame the server takes');
        client.send({ type: 'push_event', repository: 'todos', event: makeEvent('big', 1, { data: { blob: 'x'.repeat(maxMessageBytes) } }) });
        assert.equal((await client.next('error')).code, 'too_large');
        assert.equal(await client.closeCode(), 1009);

        const huge = await login(server);
        huge.send({ type: 'push_event', repository: 'todos', event: makeEvent('huge', 1, { data: { blob: 'x'.repeat(maxMessageBytes * 8) } }) });
        assert.equal(await huge.closeCode(), 1009);

        const good = await login(server);
        await push(good, 'todos', [makeEvent('fine', 2)]);
        assert.deepEqual((await allEvents(good, 'todos')).map((e) => e.dataId), ['fine']);
      });

      it('drops messages over the rate limit with rate_limited, stores only what it acked, then serves again', async () => {
        const server = await start({ rateLimit: { perSecond: 2, burst: 3 } });
        const client = await login(server);
        const events = Array.from({ length: 10 }, (_, i) => makeEvent(`r${i}`, i));
        for (const event of events) client.send({ type: 'push_event', repository: 'todos', event });
        let acks = 0;
        let limited = 0;
        while (acks + limited < events.length) {
          const reply = await client.next();
          if (reply.type === 'ack') acks++;
          else if (reply.type === 'error' && reply.code === 'rate_limited') limited++;
          else assert.fail(`unexpected ${JSON.stringify(reply)}`);
        }
        assert.ok(limited >= 5, `${limited} rate limited`);
        assert.equal(await server.store.maxSequence('default'), acks, 'exactly the acked messages were stored');
        await delay(1100);
        client.send({ type: 'ping' });
        assert.deepEqual(await client.next(), { type: 'pong' });
      });
    });

    describe('origins and liveness', () => {
      it('refuses a foreign Origin by default, allows same-origin and no Origin', async () => {
        const server = await start();
        assert.ok(await refusedAsOrigin(server.syncUrl, 'http://evil.example'));
        await connect(server, { origin: `http://127.0.0.1:${server.port}` });
        await connect(server);
      });

      it('follows ALLOWED_ORIGINS', async () => {
        const server = await start({ allowedOrigins: ['http://app.example'] });
        await connect(server, { origin: 'http://app.example' });
        assert.ok(await refusedAsOrigin(server.syncUrl, `http://127.0.0.1:${server.port}`));
        const any = await start({ allowedOrigins: ['*'] });
        await connect(any, { origin: 'http://anything.example' });
      });

      it('closes a connection that does not authenticate in time', async () => {
        const server = await start({ authTimeoutMs: 400 });
        const silent = await connect(server);
        const loggedIn = await login(server);
        assert.equal((await silent.next('error')).code, 'unauthenticated');
        assert.equal(await silent.closeCode(), 1008);
        loggedIn.send({ type: 'ping' });
        assert.deepEqual(await loggedIn.next(), { type: 'pong' }, 'an authenticated connection stays');
      });

      it('pings a silent client and terminates it when it stays silent; a client that answers stays', async () => {
        const server = await start({ heartbeatIntervalMs: 250 });
        const silent = await login(server);
        const lively = await login(server);
        assert.deepEqual(await silent.next('ping', 2000), { type: 'ping' });
        for (let i = 0; i < 2; i++) {
          await lively.next('ping', 2000);
          lively.send({ type: 'pong' });
        }
        assert.equal(await silent.closeCode(), 1006, 'terminated without a close handshake');
        assert.equal(lively.socket.readyState, lively.socket.OPEN);
      });
    });
  });
}

/** Events whose push frames all have the same size. */
function sameSizeEvents(count: number): SyncEvent[] {
  return Array.from({ length: count }, (_, i) => ({ ...makeEvent('r', 1), eventId: `sized-${String(i).padStart(4, '0')}`, dataId: `r${String(i).padStart(4, '0')}` }));
}

/**
 * Pushes each event in its own frame, at once; for each, in order, `ack` or the refusal's code.
 * Refusals before storing come back before acks after it: an ack is matched by its eventId, a
 * rate_limited error names none (the frames it stands for are the ones not acked). Broadcasts of
 * a peer's pushes are passed over.
 */
async function pushEach(client: TestClient, events: SyncEvent[]): Promise<string[]> {
  for (const event of events) client.send({ type: 'push_event', repository: 'todos', event });
  const replies: (string | undefined)[] = events.map(() => undefined);
  const acked = new Set<string>();
  let limited = 0;
  while (acked.size + limited < events.length) {
    const reply = await client.next();
    if (reply.type === 'ack') reply.eventIds.forEach((id) => acked.add(id));
    else if (reply.type === 'error' && reply.code === 'rate_limited') limited++;
    else if (reply.type !== 'events') assert.fail(`unexpected ${JSON.stringify(reply)}`);
  }
  events.forEach((event, i) => (replies[i] = acked.has(event.eventId) ? 'ack' : 'rate_limited'));
  return replies as string[];
}

function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let i = 0; i < depth; i++) value = { inner: value };
  return value;
}

/** A GET whose path is sent byte for byte (fetch would normalize `..` away). */
function rawGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += String(chunk)));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}
