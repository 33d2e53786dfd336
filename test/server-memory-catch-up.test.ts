/**
 * A long catch-up on SQLite (synchronous reads) leaves the process free between pages: health
 * checks and other clients' acks are answered while one client reads 50,000 events again and
 * again. The server runs as its own process, as in production, so that the client reading as
 * fast as it can does not share the server's event loop.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSqliteStore } from '../server/store/sqlite';
import { authed } from './helpers/client';
import { percentile, probeHealth, seed } from './helpers/memory';
import { spawnServer, type SpawnedServer } from './helpers/server';

const EVENTS = 50_000;
const CATCH_UPS = 4;
/** Without a turn of the event loop between pages, health waits for whole catch-ups: seconds. */
const HEALTH_P99_BOUND_MS = 500;

describe('catch-up on SQLite', () => {
  let dir: string;
  let server: SpawnedServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tabsync-catch-up-'));
    const databaseUrl = join(dir, 'sync.db');
    const store = openSqliteStore(databaseUrl);
    await seed(store, 'default', 'todos', EVENTS, (i) => ({ title: `todo ${i}`, done: false }));
    await store.close();
    server = await spawnServer({ DATABASE_URL: databaseUrl });
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`${CATCH_UPS} catch-ups of ${EVENTS.toLocaleString('en')} events: health p99 stays below ${HEALTH_P99_BOUND_MS} ms, a push is acked meanwhile`, async () => {
    const reader = await authed(server.syncUrl);
    const writer = await authed(server.syncUrl);
    try {
      let done = false;
      const reading = (async () => {
        let events = 0;
        for (let i = 0; i < CATCH_UPS; i++) {
          const pages = await reader.collect({ type: 'request_events', repository: 'todos' });
          events += pages.reduce((sum, page) => sum + page.events.length, 0);
        }
        done = true;
        return events;
      })();
      const pushing = (async () => {
        const ackTimes: number[] = [];
        for (let i = 0; !done; i++) {
          const started = performance.now();
          const event = { eventId: `during-${i}`, dataId: `n${i}`, operation: 0, createdAt: '2025-01-01T00:00:00.000Z', data: {} };
          writer.send({ type: 'push_event', repository: 'notes', event });
          await writer.next('ack', 10_000);
          ackTimes.push(performance.now() - started);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        return ackTimes;
      })();
      const latencies = await probeHealth(server.url, () => done);
      const ackTimes = await pushing;

      assert.equal(await reading, CATCH_UPS * EVENTS, 'every catch-up was complete');
      const p99 = percentile(latencies, 99);
      assert.ok(p99 < HEALTH_P99_BOUND_MS, `health p99 ${p99.toFixed(0)} ms (max ${Math.max(...latencies).toFixed(0)} ms, ${latencies.length} answers)`);
      assert.ok(latencies.length >= 5, `health was asked ${latencies.length} times during the catch-ups`);
      // Acks wait for an fsync (group commit): their bound is the health bound plus that.
      const ackP99 = percentile(ackTimes, 99);
      assert.ok(ackP99 < 2 * HEALTH_P99_BOUND_MS, `another client's ack p99 ${ackP99.toFixed(0)} ms (${ackTimes.length} pushes)`);
    } finally {
      reader.socket.terminate();
      writer.socket.terminate();
    }
  });
});
