/** The server as a real process: restarts, crashes and signals. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { SequencedEvent } from '../protocol';
import { authed, type AuthedClient } from './helpers/client';
import { spawnServer, type SpawnedServer } from './helpers/server';
import { makeEvent } from './store-contract';

describe('server process', () => {
  let dir: string;
  let databaseUrl: string;
  const running: SpawnedServer[] = [];
  const clients: AuthedClient[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tabsync-process-'));
    databaseUrl = join(dir, 'data', 'sync.db');
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close();
    for (const server of running.splice(0)) await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function spawn(env: Record<string, string> = {}): Promise<SpawnedServer> {
    const server = await spawnServer({ DATABASE_URL: databaseUrl, ...env });
    running.push(server);
    return server;
  }
  async function login(server: SpawnedServer, token?: string): Promise<AuthedClient> {
    const client = await authed(server.syncUrl, token);
    clients.push(client);
    return client;
  }
  async function stored(server: SpawnedServer): Promise<SequencedEvent[]> {
    const client = await login(server);
    const pages = await client.collect({ type: 'request_events', repository: 'todos' });
    return pages.flatMap((p) => p.events as SequencedEvent[]);
  }

  it('prints one start line with the port, warns about dev mode, and creates the database directory', async () => {
    const server = await spawn();
    const entries = server.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const listening = entries.filter((e) => e['msg'] === 'listening');
    assert.equal(listening.length, 1);
    assert.equal(listening[0]?.['port'], server.port);
    assert.equal(listening[0]?.['database'], 'sqlite');
    assert.ok(entries.some((e) => e['level'] === 'warn' && /dev mode/.test(String(e['msg']))));
    const health = (await (await fetch(server.url + '/api/health')).json()) as { status: string };
    assert.equal(health.status, 'ok');
  });

  it('reads AUTH_TOKENS from the environment', async () => {
    const server = await spawn({ AUTH_TOKENS: 'secret-1=team-one,secret-2=team-two' });
    assert.equal((await login(server, 'secret-2')).namespace, 'team-two');
    await assert.rejects(authed(server.syncUrl, 'secret-3'), /auth_failed/);
    assert.ok(!server.lines.some((e) => /dev mode/.test(e)));
  });

  it('refuses to start on invalid configuration, saying why', async () => {
    await assert.rejects(spawnServer({ DATABASE_URL: databaseUrl, RATE_LIMIT: 'lots' }), /RATE_LIMIT must be an integer/);
  });

  it('keeps events and sequences across a restart on the same SQLite file', async () => {
    const first = await spawn();
    const writer = await login(first);
    writer.send({ type: 'push_events_batch', repository: 'todos', events: [makeEvent('a', 1), makeEvent('b', 2)] });
    await writer.next('ack');
    await writer.close();
    await first.stop();

    const second = await spawn();
    assert.deepEqual((await stored(second)).map((e) => [e.dataId, e.serverSequence]), [['a', 1], ['b', 2]]);
    const client = await login(second);
    client.send({ type: 'push_event', repository: 'todos', event: makeEvent('c', 3) });
    await client.next('ack');
    assert.deepEqual((await stored(second)).map((e) => e.serverSequence), [1, 2, 3], 'sequences continue');
  });

  it('keeps an acknowledged event when the server is killed with SIGKILL', async () => {
    const first = await spawn();
    const writer = await login(first);
    const events = Array.from({ length: 50 }, (_, i) => makeEvent(`r${i}`, i));
    writer.send({ type: 'push_events_batch', repository: 'todos', events });
    await writer.next('ack');
    assert.equal((await first.kill('SIGKILL')).signal, 'SIGKILL');

    const second = await spawn();
    assert.deepEqual((await stored(second)).map((e) => e.eventId), events.map((e) => e.eventId));
  });

  it('shuts down gracefully on SIGTERM: clients see 1001, the process exits 0', async () => {
    const server = await spawn();
    const a = await login(server);
    const b = await login(server);
    const exit = await server.kill('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.equal(await a.closeCode(), 1001);
    assert.equal(await b.closeCode(), 1001);
    assert.ok(server.lines.some((line) => /"msg":"shut down"/.test(line)));
  });
});
