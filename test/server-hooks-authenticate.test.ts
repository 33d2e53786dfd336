/**
 * createSyncServer's `authenticate` hook over real sockets and REST reads: it maps credentials
 * (the auth message's token and headers, the upgrade request) to a principal and a namespace; a
 * hook that refuses, throws, answers garbage or hangs gives `auth_failed` (or 401), never a crash.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { AuthenticatedAs, AuthenticateInput } from '../server/create-sync-server';
import { TestClient } from './helpers/client';
import { makeEvent } from './store-contract';
import { Cleanups, startHookedServer, type HookedServer } from './server-hooks-harness';

const TIMEOUT_MS = 500;

/** Resolves once the hook's answer to `rejects-late` has rejected, long after its timeout. */
let lateRejection: Promise<void> = Promise.resolve();

/** Answers the token names the outcome of. */
function answerFor(input: AuthenticateInput): AuthenticatedAs | null | Promise<AuthenticatedAs | null> {
  const { token, headers, request } = input;
  if (token === 'alice') return { principal: 'alice', namespace: 'team' };
  if (token === 'alice-elsewhere') return { principal: 'alice', namespace: 'other-team' };
  if (token === undefined && headers['x-api-key'] === 'key-of-bob') return { principal: 'bob', namespace: 'team' };
  const session = /session=(\w+)/.exec(request.headers.cookie ?? '')?.[1];
  if (token === undefined && session) return { principal: session, namespace: 'cookies' };
  if (token === 'throws') throw new Error('directory at 10.0.0.7 is down');
  if (token === 'rejects') return Promise.reject(new Error('directory at 10.0.0.7 is down'));
  if (token === 'hangs') return new Promise(() => {});
  if (token === 'rejects-late') {
    let rejected!: () => void;
    lateRejection = new Promise((resolve) => (rejected = resolve));
    return new Promise((_, reject) =>
      setTimeout(() => {
        reject(new Error('too late'));
        rejected();
      }, TIMEOUT_MS * 2),
    );
  }
  if (token?.startsWith('expires-in-')) return { principal: 'carol', namespace: 'team', expiresAt: Date.now() + Number(token.slice(11)) };
  const garbage = GARBAGE[token ?? ''];
  if (garbage) return garbage.answer as AuthenticatedAs;
  return null;
}

/** Answers of a buggy hook, each with what the client is told. */
const GARBAGE: Record<string, { answer: unknown; told: RegExp }> = {
  'number-principal': { answer: { principal: 42, namespace: 'team' }, told: /principal must be a string, not a number/ },
  'empty-namespace': { answer: { principal: 'x', namespace: '' }, told: /namespace must not be empty/ },
  'no-namespace': { answer: { principal: 'x' }, told: /namespace must be a string, not a undefined/ },
  'a-string': { answer: 'alice', told: /neither an identity nor null/ },
  'undefined': { answer: undefined, told: /neither an identity nor null/ },
  'bad-expiry': { answer: { principal: 'x', namespace: 'team', expiresAt: 'soon' }, told: /expiresAt that is not a number/ },
  'expired': { answer: { principal: 'x', namespace: 'team', expiresAt: 1 }, told: /has expired/ },
  'throwing-getter': {
    answer: {
      get principal(): string {
        throw new Error('a getter that throws');
      },
      namespace: 'team',
    },
    told: /authenticate hook failed/,
  },
};

describe('createSyncServer: the authenticate hook', () => {
  const cleanups = new Cleanups();
  afterEach(() => cleanups.run());

  async function start(): Promise<HookedServer> {
    const server = await startHookedServer({ authenticate: answerFor, authTimeoutMs: TIMEOUT_MS });
    cleanups.add(() => server.close());
    return server;
  }

  it("authenticates from the auth message's token or headers, or from the upgrade request", async () => {
    const server = await start();
    const byToken = await cleanups.client(server.syncUrl);
    byToken.send({ type: 'auth', token: 'alice' });
    const welcome = await byToken.next('auth_success');
    assert.deepEqual([welcome.principal, welcome.namespace], ['alice', 'team']);

    const byHeader = await cleanups.client(server.syncUrl);
    byHeader.send({ type: 'auth', headers: { 'x-api-key': 'key-of-bob' } });
    assert.equal((await byHeader.next('auth_success')).principal, 'bob');

    const byCookie = await TestClient.connect(server.syncUrl, { headers: { cookie: 'theme=dark; session=dora' } });
    cleanups.add(() => byCookie.close());
    byCookie.send({ type: 'auth' });
    const cookieWelcome = await byCookie.next('auth_success');
    assert.deepEqual([cookieWelcome.principal, cookieWelcome.namespace], ['dora', 'cookies']);
  });

  it('a null answer is auth_failed; the connection stays open and may try again', async () => {
    const server = await start();
    const client = await cleanups.client(server.syncUrl);
    client.send({ type: 'auth', token: 'nobody' });
    const refusal = await client.next('error');
    assert.equal(refusal.code, 'auth_failed');
    assert.match(refusal.message, /credentials refused/);
    client.send({ type: 'push_event', repository: 'todos', event: makeEvent('a', 1) });
    assert.equal((await client.next('error')).code, 'unauthenticated', 'a refused connection writes nothing');
    client.send({ type: 'auth', token: 'alice' });
    assert.equal((await client.next('auth_success')).principal, 'alice');
  });

  it('a hook that throws or rejects is auth_failed with a log line; its error stays in the log, out of the reply', async () => {
    const server = await start();
    const client = await cleanups.client(server.syncUrl);
    for (const token of ['throws', 'rejects']) {
      client.send({ type: 'auth', token });
      const refusal = await client.next('error');
      assert.equal(refusal.code, 'auth_failed');
      assert.match(refusal.message, /authenticate hook failed/);
      assert.doesNotMatch(refusal.message, /10\.0\.0\.7/);
    }
    const logged = server.logs.filter((line) => line['msg'] === 'authenticate hook failed');
    assert.equal(logged.length, 2);
    assert.match(JSON.stringify(logged[0]), /authenticate threw: directory at 10\.0\.0\.7 is down/);
    client.send({ type: 'auth', token: 'alice' });
    assert.equal((await client.next('auth_success')).namespace, 'team', 'the server and the connection go on');
  });

  it('an answer that is no identity is auth_failed, naming what is wrong with it', async () => {
    const server = await start();
    const client = await cleanups.client(server.syncUrl);
    for (const [token, { told }] of Object.entries(GARBAGE)) {
      client.send({ type: 'auth', token });
      const refusal = await client.next('error');
      assert.equal(refusal.code, 'auth_failed', token);
      assert.match(refusal.message, told, token);
    }
    client.send({ type: 'auth', token: 'alice' });
    await client.next('auth_success');
  });

  it('a hook that never answers: a first auth ends at the auth timeout; a re-auth gets auth_failed and loses its identity', async () => {
    const server = await start();
    const first = await cleanups.client(server.syncUrl);
    first.send({ type: 'auth', token: 'hangs' });
    const timeout = await first.next('error', TIMEOUT_MS * 10);
    assert.deepEqual([timeout.code, timeout.message], ['unauthenticated', 'authentication timeout: no valid auth message in time']);
    assert.equal(await first.closeCode(), 1008);

    const again = await cleanups.client(server.syncUrl);
    again.send({ type: 'auth', token: 'alice' });
    await again.next('auth_success');
    again.send({ type: 'auth', token: 'hangs' });
    const refusal = await again.next('error', TIMEOUT_MS * 10);
    assert.equal(refusal.code, 'auth_failed');
    assert.match(refusal.message, /authenticate hook failed/);
    assert.ok(server.logs.some((line) => line['msg'] === 'authenticate hook failed' && JSON.stringify(line).includes(`did not answer within ${TIMEOUT_MS} ms`)));
    // Unauthenticated again: the auth timeout runs anew and ends the connection.
    assert.equal((await again.next('error', TIMEOUT_MS * 10)).code, 'unauthenticated');
    assert.equal(await again.closeCode(), 1008);
  });

  it('a hook that rejects after its timeout is no unhandled rejection', async () => {
    const server = await start();
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    cleanups.add(async () => void process.off('unhandledRejection', record));
    const client = await cleanups.client(server.syncUrl);
    client.send({ type: 'auth', token: 'alice' });
    await client.next('auth_success');
    client.send({ type: 'auth', token: 'rejects-late' });
    assert.equal((await client.next('error', TIMEOUT_MS * 10)).code, 'auth_failed');
    await lateRejection;
    // Unhandled rejections are reported after the microtasks of the turn they happen in.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(unhandled, []);
  });

  it("an expiresAt ends the identity then, as a JWT's exp does", async () => {
    const server = await start();
    const client = await cleanups.client(server.syncUrl);
    client.send({ type: 'auth', token: 'expires-in-200' });
    assert.equal((await client.next('auth_success')).principal, 'carol');
    const expired = await client.next('error');
    assert.deepEqual([expired.code, expired.message], ['auth_failed', 'token expired: authenticate again']);
    client.send({ type: 'request_events', repository: 'todos' });
    assert.equal((await client.next('error')).code, 'unauthenticated');
  });

  it('the principal limits hold for hook identities: one too many is refused, across namespaces', async () => {
    const server = await startHookedServer({ authenticate: answerFor, maxConnectionsPerPrincipal: 2 });
    cleanups.add(() => server.close());
    for (const token of ['alice', 'alice-elsewhere']) {
      const client = await cleanups.client(server.syncUrl);
      client.send({ type: 'auth', token });
      await client.next('auth_success');
    }
    const third = await cleanups.client(server.syncUrl);
    third.send({ type: 'auth', token: 'alice' });
    const refusal = await third.next('error');
    assert.equal(refusal.code, 'rate_limited');
    assert.match(refusal.message, /too many connections.*at most 2/);
    assert.equal(await third.closeCode(), 1008);
  });

  it('REST reads authenticate through the hook too: 200 for its identity, 401 when it refuses or fails', async () => {
    const server = await start();
    const get = async (token?: string) => (await fetch(`${server.url}/api/repositories`, { headers: token ? { authorization: `Bearer ${token}` } : {} })).status;
    assert.equal(await get('alice'), 200);
    assert.equal(await get(), 401);
    assert.equal(await get('nobody'), 401);
    assert.equal(await get('throws'), 401);
    const cookie = await fetch(`${server.url}/api/repositories`, { headers: { cookie: 'session=dora' } });
    assert.equal(cookie.status, 200, 'the hook is given the request itself');
  });

  it('refuses to start with authenticate beside authTokens or jwtSecret, or with a hook that is not a function', async () => {
    await assert.rejects(startHookedServer({ authenticate: answerFor, authTokens: { t: 'team' } }), /authenticate replaces authTokens and jwtSecret/);
    await assert.rejects(startHookedServer({ authenticate: answerFor, jwtSecret: 'x'.repeat(32) }), /authenticate replaces authTokens and jwtSecret/);
    await assert.rejects(startHookedServer({ authenticate: 'alice' as never }), /authenticate must be a function/);
  });
});
