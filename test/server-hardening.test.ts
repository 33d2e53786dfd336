/**
 * Server-side defences, each shown failing the attack it exists for: cross-site WebSocket
 * hijacking, connections that never authenticate, floods, too many sockets per principal,
 * oversized batches and pages, secrets in logs, the demo page's CSP, and the hostile payloads
 * the fuzzer found (test/server-fuzz.test.ts). What test/server-protocol.ts covers is not repeated.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SignJWT } from 'jose';
import {
  decodeFrame,
  DEFAULT_PAGE_EVENTS,
  MAX_BATCH_EVENTS,
  MAX_DATA_DEPTH,
  MAX_PAGE_EVENTS,
  MAX_SERVER_FRAME_BYTES,
  ServerMessageSchema,
  type ClientMessage,
  type MessageOf,
  type ServerMessage,
  type SyncEvent,
} from '../protocol';
import { authed, refusedAsOrigin, TestClient } from './helpers/client';
import { spawnServer } from './helpers/server';
import { serverTestScope } from './helpers/scope';
import { makeEvent } from './store-contract';

const JWT_SECRET = 'hardening-jwt-secret-0123456789abcdef';
const jwtKey = new TextEncoder().encode(JWT_SECRET);
const TOKENS = new Map([
  ['token-alpha', 'alpha'],
  ['token-beta', 'beta'],
]);

function jwt(subject: string, claims: Record<string, unknown>, options: { expiresAt?: number; key?: Uint8Array } = {}): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .setExpirationTime(options.expiresAt ?? '1h')
    .sign(options.key ?? jwtKey);
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('server hardening', () => {
  const { start, spawn, connect, login, defer } = serverTestScope();
  async function activeConnections(url: string): Promise<number> {
    return ((await (await fetch(`${url}/api/health`)).json()) as { activeConnections: number }).activeConnections;
  }
  /** Every reply to `count` frames, in arrival order. */
  async function replies(client: TestClient, count: number): Promise<string[]> {
    const seen: string[] = [];
    for (let i = 0; i < count; i++) {
      const reply = await client.next();
      seen.push(reply.type === 'error' ? `error:${reply.code}` : reply.type);
    }
    return seen;
  }

  describe('Host check of a development server (DNS rebinding)', () => {
    /** An HTTP GET naming `host`, as a page of that site would send it once its name points here. */
    const getWithHost = (port: number, path: string, host: string) =>
      new Promise<number>((resolve, reject) => {
        request({ host: '127.0.0.1', port, path, headers: { host } }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        }).on('error', reject).end();
      });

    it('in dev mode on a loopback address, a request naming another host gets 403, HTTP and WebSocket alike', async () => {
      const server = await start();
      const rebound = `evil.example:${server.port}`;
      for (const path of ['/api/health', '/api/repositories', '/']) assert.equal(await getWithHost(server.port, path, rebound), 403, path);
      await assert.rejects(
        TestClient.connect(server.syncUrl, { origin: `http://${rebound}`, headers: { host: rebound } }),
        /upgrade refused: 403/,
      );
      assert.equal(await activeConnections(server.url), 0);
      for (const host of [`localhost:${server.port}`, `127.0.0.1:${server.port}`, `[::1]:${server.port}`]) {
        assert.equal(await getWithHost(server.port, '/api/health', host), 200, host);
      }
      const own = await connect(server.syncUrl, { origin: `http://localhost:${server.port}`, headers: { host: `localhost:${server.port}` } });
      own.send({ type: 'ping' });
      assert.deepEqual(await own.next(), { type: 'pong' });
    });

    it('with tokens required (not dev mode) the Host is not restricted: a proxy may name the public host', async () => {
      const server = await start({ authTokens: TOKENS });
      assert.equal(await getWithHost(server.port, '/api/health', `sync.example:${server.port}`), 200);
    });
  });

  describe('Origin allowlist on upgrades (cross-site WebSocket hijacking)', () => {
    it('without ALLOWED_ORIGINS only the server\'s own origin gets in: look-alikes get origin_refused and a 1008 close, never a connection', async () => {
      const server = await start();
      const own = `http://127.0.0.1:${server.port}`;
      const lookAlikes = [
        `http://127.0.0.1:${server.port}.evil.example`,
        `http://127.0.0.1:${server.port}@evil.example`,
        `http://127.0.0.1:${server.port + 1}`,
        `http://localhost:${server.port}`,
        'http://evil.example',
        'null',
        'not a url',
      ];
      for (const origin of lookAlikes) assert.ok(await refusedAsOrigin(server.syncUrl, origin), origin);
      const allowed = await connect(server.syncUrl, { origin: own });
      allowed.send({ type: 'ping' });
      assert.deepEqual(await allowed.next(), { type: 'pong' });
      assert.equal(await activeConnections(server.url), 1, 'no refused upgrade became a connection');
    });

    it('with ALLOWED_ORIGINS (from the environment) exactly the listed origins get in', async () => {
      const server = await spawn({ ALLOWED_ORIGINS: ' https://app.example , http://admin.example:8080 ' });
      for (const origin of ['https://app.example', 'http://admin.example:8080']) await connect(server.syncUrl, { origin });
      const refused = [
        'http://app.example',
        'https://app.example:444',
        'https://app.example.evil.example',
        'https://evil.example',
        'http://admin.example',
        'null',
        `http://127.0.0.1:${server.port}`,
      ];
      for (const origin of refused) assert.ok(await refusedAsOrigin(server.syncUrl, origin), origin);
      assert.equal(await activeConnections(server.url), 2);
      const logged = server.lines.filter((line) => line.includes('"origin refused"'));
      assert.equal(logged.length, refused.length, 'each refusal is logged');
      assert.ok(logged.some((line) => line.includes('https://evil.example')), 'with the origin it refused');
    });
  });

  describe('authentication timeout', () => {
    it('closes connections that ping, send garbage or fail to authenticate: activity is not authentication', async () => {
      const server = await start({ authTokens: TOKENS, authTimeoutMs: 500 });
      const pinger = await connect(server.syncUrl);
      const garbler = await connect(server.syncUrl);
      const guesser = await connect(server.syncUrl);
      const busy = setInterval(() => {
        pinger.send({ type: 'ping' });
        garbler.sendRaw('{"type":');
        guesser.send({ type: 'auth', token: 'guess' });
      }, 100);
      try {
        for (const client of [pinger, garbler, guesser]) {
          await authTimeout(client);
          assert.equal(await client.closeCode(), 1008);
        }
      } finally {
        clearInterval(busy);
      }
    });

    it('starts again when a re-authentication fails: the connection is closed unless it authenticates in time', async () => {
      const server = await start({ authTokens: TOKENS, authTimeoutMs: 400 });
      const recovered = await login(server.syncUrl, 'token-alpha');
      const dropped = await login(server.syncUrl, 'token-alpha');
      // The server's own timer (real time, in its process): a connection opened after these two
      // is closed at its deadline, so theirs had passed too.
      await authTimeout(await connect(server.syncUrl));
      for (const client of [recovered, dropped]) {
        client.send({ type: 'auth', token: 'revoked' });
        assert.equal((await client.next('error')).code, 'auth_failed', 'authenticated past the timeout, then refused');
      }
      recovered.send({ type: 'auth', token: 'token-beta' });
      assert.equal((await recovered.next('auth_success')).namespace, 'beta');
      await authTimeout(dropped);
      assert.equal(await dropped.closeCode(), 1008);
      // recovered's deadline was set just before dropped's, which passed: it was due, and met.
      recovered.send({ type: 'ping' });
      assert.deepEqual(await recovered.next(), { type: 'pong' }, 'authenticated again in time: still open');
    });
  });

  describe('per-connection rate limit', () => {
    it('spends one budget on every frame, before authentication: invalid and binary frames count, a dropped auth is not processed', async () => {
      const server = await start({ authTokens: TOKENS, rateLimit: { perSecond: 1, burst: 3 } });
      const client = await connect(server.syncUrl);
      client.sendRaw(Buffer.from('{"type":"ping"}'), true);
      client.sendRaw('not json');
      client.send({ type: 'auth', token: 'wrong' });
      client.send({ type: 'auth', token: 'token-alpha' });
      assert.deepEqual((await replies(client, 4)).sort(), ['error:auth_failed', 'error:invalid_message', 'error:invalid_message', 'error:rate_limited']);
      // The bucket refills in real time (1 a second): ask until a frame is taken, then it is answered.
      const answer = await untilTaken(client, { type: 'request_events', repository: 'todos' });
      assert.equal(answer.code, 'unauthenticated', 'the auth that was dropped did not authenticate');
    });

    it('is per connection: a flooding connection does not slow down another one of the same principal', async () => {
      const server = await start({ authTokens: TOKENS, rateLimit: { perSecond: 1, burst: 5 } });
      const flooder = await login(server.syncUrl, 'token-alpha');
      const neighbour = await login(server.syncUrl, 'token-alpha');
      for (let i = 0; i < 20; i++) flooder.send({ type: 'ping' });
      const flood = await replies(flooder, 20);
      assert.ok(flood.filter((r) => r === 'error:rate_limited').length >= 14, flood.join());
      for (let i = 0; i < 4; i++) neighbour.send({ type: 'ping' });
      assert.deepEqual(await replies(neighbour, 4), ['pong', 'pong', 'pong', 'pong']);
    });
  });

  describe('connections per principal', () => {
    it('counts a JWT subject across namespaces; the one too many is refused clearly; a terminated or failed connection frees its slot', async () => {
      const server = await start({ jwtSecret: JWT_SECRET, maxConnectionsPerPrincipal: 2 });
      const inTeamA = await jwt('alice', { namespace: 'team-a' });
      const first = await login(server.syncUrl, inTeamA);
      const second = await login(server.syncUrl, await jwt('alice', { namespace: 'team-b' }));
      await login(server.syncUrl, await jwt('bob', { namespace: 'team-a' }));

      const third = await connect(server.syncUrl);
      third.send({ type: 'auth', token: inTeamA });
      const refusal = await third.next('error');
      assert.equal(refusal.code, 'rate_limited');
      assert.match(refusal.message, /too many connections.*at most 2/);
      assert.equal(await third.closeCode(), 1008);

      second.send({ type: 'auth', token: inTeamA });
      assert.equal((await second.next('auth_success')).namespace, 'team-a', 're-authenticating as the same principal takes no second slot');

      first.socket.terminate();
      const replacement = await retry(() => authed(server.syncUrl, inTeamA), 2000);
      defer(() => replacement.close());

      second.send({ type: 'auth', token: 'forged' });
      assert.equal((await second.next('error')).code, 'auth_failed');
      await login(server.syncUrl, inTeamA);
    });
  });

  describe('bounds on batches and pages', () => {
    const tiny = (i: number): SyncEvent => makeEvent(`r${i}`, i, { operation: 2, data: undefined });

    it(`refuses a batch of ${MAX_BATCH_EVENTS + 1} (or none) as invalid_message and stores nothing; ${MAX_BATCH_EVENTS} are stored`, async () => {
      const server = await start();
      const client = await login(server.syncUrl);
      client.send({ type: 'push_events_batch', repository: 'todos', events: Array.from({ length: MAX_BATCH_EVENTS + 1 }, (_, i) => tiny(i)) });
      const tooMany = await client.next('error');
      assert.equal(tooMany.code, 'invalid_message');
      assert.match(tooMany.message, new RegExp(`at most ${MAX_BATCH_EVENTS} events`));
      client.send({ type: 'push_events_batch', repository: 'todos', events: [] });
      assert.equal((await client.next('error')).code, 'invalid_message');
      assert.equal(await server.store.maxSequence('default'), 0, 'nothing of either batch was stored');

      const events = Array.from({ length: MAX_BATCH_EVENTS }, (_, i) => tiny(i));
      client.send({ type: 'push_events_batch', repository: 'todos', events });
      assert.equal((await client.next('ack')).eventIds.length, MAX_BATCH_EVENTS);
      assert.equal(await server.store.maxSequence('default'), MAX_BATCH_EVENTS);
    });

    it(`refuses a page limit over ${MAX_PAGE_EVENTS} (WebSocket and REST); pages hold at most the limit asked, or ${DEFAULT_PAGE_EVENTS}`, async () => {
      const server = await start();
      const client = await login(server.syncUrl);
      const total = MAX_PAGE_EVENTS + 200;
      for (let i = 0; i < total; i += MAX_BATCH_EVENTS) {
        client.send({ type: 'push_events_batch', repository: 'todos', events: Array.from({ length: Math.min(MAX_BATCH_EVENTS, total - i) }, (_, j) => tiny(i + j)) });
        await client.next('ack');
      }

      client.send({ type: 'request_events', repository: 'todos', limit: MAX_PAGE_EVENTS + 1 });
      const refused = await client.next('error');
      assert.equal(refused.code, 'invalid_message');
      assert.match(refused.message, /limit/);
      client.send({ type: 'request_events', repository: 'todos', limit: MAX_PAGE_EVENTS });
      const largest = await client.next('events');
      assert.deepEqual([largest.events.length, largest.hasMore], [MAX_PAGE_EVENTS, true]);

      const rest = (query: string) => fetch(`${server.url}/api/events/todos${query}`);
      assert.equal((await rest(`?limit=${MAX_PAGE_EVENTS + 1}`)).status, 400);
      const byDefault = (await (await rest('')).json()) as { events: unknown[]; hasMore: boolean };
      assert.deepEqual([byDefault.events.length, byDefault.hasMore], [DEFAULT_PAGE_EVENTS, true]);

      client.send({ type: 'request_all_events' });
      const sizes: number[] = [];
      for (;;) {
        const message = await client.next();
        if (message.type === 'events') sizes.push(message.events.length);
        else if (message.type === 'sync_complete' && message.repository === undefined) break;
      }
      assert.deepEqual(sizes, [DEFAULT_PAGE_EVENTS, DEFAULT_PAGE_EVENTS, total - 2 * DEFAULT_PAGE_EVENTS], 'request_all_events streams in default-sized pages');
    });
  });

  describe('secrets in logs', () => {
    it('LOG_LEVEL=debug: no token, JWT or JWT_SECRET in any log line, whatever the auth path', async () => {
      const staticToken = 'static-token-s3cr3t-4f9a';
      const server = await spawn({
        LOG_LEVEL: 'debug',
        AUTH_TOKENS: `${staticToken}=team`,
        JWT_SECRET,
        MAX_CONNECTIONS_PER_PRINCIPAL: '1',
      });
      const now = Math.floor(Date.now() / 1000);
      const goodJwt = await jwt('alice', { namespace: 'team-a' });
      const headerJwt = await jwt('bob', { namespace: 'team-b' });
      const refusedJwts = [
        await jwt('mallory', { namespace: 'team-a' }, { key: new TextEncoder().encode('some-other-secret-0123456789abcdef') }),
        await jwt('alice', { namespace: 'team-a' }, { expiresAt: now - 60 }),
        await jwt('alice', {}),
        `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"alice","namespace":"team-a"}').toString('base64url')}.`,
      ];
      const wrongTokens = ['wrong-static-token-77d2', 'eyJhbGciOiJIUzI1NiJ9.garbage-payload.garbage-signature'];

      // Good credentials, each way they can come: message header, message token, upgrade header.
      const viaHeader = await connect(server.syncUrl);
      viaHeader.send({ type: 'auth', headers: { authorization: `Bearer ${staticToken}` } });
      await viaHeader.next('auth_success');
      const tooMany = await connect(server.syncUrl);
      tooMany.send({ type: 'auth', token: staticToken });
      assert.equal((await tooMany.next('error')).code, 'rate_limited', 'one too many for the static token');
      await (await login(server.syncUrl, goodJwt)).close();
      await (await login(server.syncUrl, undefined, { headers: { Authorization: `Bearer ${headerJwt}` } })).close();
      await viaHeader.close();
      // The server may count the closed one a moment longer.
      await (await retry(() => authed(server.syncUrl, staticToken), 2000)).close();

      // Refused credentials, the same ways.
      const refused = await connect(server.syncUrl, { headers: { Authorization: `Bearer ${wrongTokens[0]}` } });
      refused.send({ type: 'auth' });
      await refused.next('error');
      for (const token of [...wrongTokens, ...refusedJwts]) {
        refused.send({ type: 'auth', token });
        await refused.next('error');
        refused.send({ type: 'auth', headers: { Authorization: `Bearer ${token}` } });
        await refused.next('error');
      }
      // A token expiring while connected, and REST with good and bad tokens.
      const expiringJwt = await jwt('erin', { namespace: 'team-a' }, { expiresAt: Math.floor(Date.now() / 1000) + 2 });
      const expiring = await login(server.syncUrl, expiringJwt);
      assert.match((await expiring.next('error', 5000)).message, /expired/);
      for (const token of [staticToken, goodJwt, ...wrongTokens, ...refusedJwts]) {
        await (await fetch(`${server.url}/api/repositories`, { headers: { Authorization: `Bearer ${token}` } })).arrayBuffer();
      }
      await expiring.close();
      await refused.close();
      await tooMany.close();
      await server.stop();

      const log = server.lines.join('\n');
      for (const expected of ['authenticated', 'auth failed', 'too many connections', 'token expired', 'connection closed', 'shut down']) {
        assert.ok(log.includes(expected), `the log covers ${expected}`);
      }
      const secrets = [staticToken, JWT_SECRET, goodJwt, headerJwt, expiringJwt, ...wrongTokens, ...refusedJwts];
      for (const secret of secrets) {
        assert.ok(!log.includes(secret), `a secret is in the log: ${secret.slice(0, 12)}…`);
        const signature = secret.split('.')[2];
        if (signature) assert.ok(!log.includes(signature), 'a JWT signature is in the log');
      }
    });

    it('a malformed AUTH_TOKENS stops the server without printing the token', async () => {
      const token = 'lonely-token-9c1e';
      await assert.rejects(spawnServer({ AUTH_TOKENS: token }), (error: Error) => {
        assert.match(error.message, /AUTH_TOKENS entry 1 must be token=namespace/);
        assert.ok(!error.message.includes(token), 'the token is not in the error output');
        return true;
      });
    });
  });

  describe('the demo page', () => {
    it('is served with a CSP that allows no inline script, framing, <base> or foreign form targets, and with nosniff', async () => {
      const publicDir = join(import.meta.dirname, '..', 'public');
      const server = await start({ publicDir });
      for (const method of ['GET', 'HEAD']) {
        const page = await fetch(`${server.url}/`, { method });
        assert.equal(page.status, 200);
        assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
        assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
        const policy = parsePolicy(page.headers.get('content-security-policy') ?? '');
        assert.deepEqual(policy.get('default-src'), ["'self'"]);
        assert.deepEqual(policy.get('script-src'), ["'self'"], 'no inline script, no eval');
        assert.deepEqual(policy.get('style-src'), ["'self'"]);
        assert.deepEqual(policy.get('frame-ancestors'), ["'none'"], 'no clickjacking through a frame');
        assert.deepEqual(policy.get('base-uri'), ["'none'"], 'no <base> to re-point relative scripts');
        assert.deepEqual(policy.get('form-action'), ["'self'"]);
        await page.arrayBuffer();
      }
      const styles = await fetch(`${server.url}/styles.css`);
      assert.equal(styles.headers.get('x-content-type-options'), 'nosniff');
      await styles.arrayBuffer();

      // The page must work under its own policy: nothing inline that the CSP would block.
      const html = readFileSync(join(publicDir, 'index.html'), 'utf8');
      assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline <script>');
      assert.doesNotMatch(html, /<[^>]+\son[a-z]+\s*=/i, 'no inline event handlers');
      assert.doesNotMatch(html, /<[^>]+\sstyle\s*=/i, 'no inline styles');
      assert.doesNotMatch(html, /(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i, 'nothing loaded from another origin');
    });
  });

  describe('hostile payloads the fuzzer found', () => {
    it('refuses what it could not store as sent or serve back: lone surrogates, escaped __proto__, data too deep for a page, reserved repository names', async () => {
      const server = await start();
      const client = await login(server.syncUrl);
      const raw: string[] = [];
      client.socket.on('message', (data) => raw.push(String(data)));
      const event = (fields: Partial<SyncEvent>) => makeEvent('x', 1, fields);
      const refused: [string, string, RegExp][] = [
        ['a lone surrogate in dataId', JSON.stringify({ type: 'push_event', repository: 'todos', event: event({ dataId: 'a\ud800' }) }), /well-formed/],
        ['a lone surrogate in a data key', JSON.stringify({ type: 'push_event', repository: 'todos', event: event({ data: { '\udc00': 1 } }) }), /well-formed/],
        ['U+0000 in data (PostgreSQL cannot store it)', JSON.stringify({ type: 'push_event', repository: 'todos', event: event({ data: { title: 'a\u0000b' } }) }), /U\+0000/],
        ['an escaped __proto__ key', JSON.stringify({ type: 'push_event', repository: 'todos', event: event({ data: { inner: { SLOT: {} } } }) }).replace('"SLOT"', '"\\u005f_proto__"'), /__proto__/],
        ['data nested one level deeper than a page can carry', JSON.stringify({ type: 'push_event', repository: 'todos', event: event({ data: nested(MAX_DATA_DEPTH + 1) }) }), /nested deeper/],
        ...['__proto__', 'constructor', 'prototype'].map((name): [string, string, RegExp] => [`repository ${name}`, JSON.stringify({ type: 'push_event', repository: name, event: event({}) }), /repository/]),
      ];
      for (const [name, frame, message] of refused) {
        client.sendRaw(frame);
        const error = await client.next('error');
        assert.equal(error.code, 'invalid_message', name);
        assert.match(error.message, message, name);
      }
      assert.equal(await server.store.maxSequence('default'), 0, 'none of it was stored');

      // The deepest data allowed is stored and comes back in a page a client can decode.
      const deepest = event({ data: nested(MAX_DATA_DEPTH) });
      client.send({ type: 'push_event', repository: 'todos', event: deepest });
      await client.next('ack');
      await client.collect({ type: 'request_events', repository: 'todos' });
      // A parse error quoting half of a surrogate pair still makes a well-formed error message.
      client.sendRaw('\u{1F600}');
      assert.equal((await client.next('error')).code, 'invalid_message');
      for (const frame of raw) {
        const decoded = decodeFrame(frame, ServerMessageSchema, MAX_SERVER_FRAME_BYTES);
        assert.ok(decoded.ok, `a client cannot decode ${frame.slice(0, 120)}: ${decoded.ok || decoded.error}`);
      }
      assert.ok(raw.some((frame) => frame.includes(deepest.eventId) && frame.startsWith('{"type":"events"')), 'the deepest event was served');
    });
  });
});

/** Waits for the auth-timeout error, past the other errors the connection provoked. */
/** Sends `message` until the rate limit takes it (it refills in real time): the error it got. */
async function untilTaken(client: TestClient, message: ClientMessage, withinMs = 5000): Promise<MessageOf<ServerMessage, 'error'>> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    client.send(message);
    const error = await client.next('error');
    if (error.code !== 'rate_limited' || Date.now() > deadline) return error;
    await delay(100);
  }
}

async function authTimeout(client: TestClient): Promise<void> {
  for (;;) {
    const error = await client.next('error', 3000);
    if (/authentication timeout/.test(error.message)) return;
  }
}

/** An object nested `depth` levels deep (`{}` is one level). */
function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let i = 1; i < depth; i++) value = { inner: value };
  return value;
}

function parsePolicy(header: string): Map<string, string[]> {
  const directives = new Map<string, string[]>();
  for (const part of header.split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) directives.set(name.toLowerCase(), values);
  }
  return directives;
}

/** Calls `attempt` until it succeeds or `withinMs` has passed (the last error is thrown). */
async function retry<T>(attempt: () => Promise<T>, withinMs: number): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await delay(50);
    }
  }
}
