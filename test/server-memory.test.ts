/**
 * Memory bounds of the server (issue 14), each shown against the attack it exists for, in a
 * light version (scripts/attack.ts runs the heavy ones and prints figures): readers that stop
 * reading mid catch-up, unauthenticated floods of empty frames, REST pages, the global connection
 * cap, a broadcast consumer that does not read, and a token that expires mid-stream.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { TestClient } from './helpers/client';
import { floodEmptyFrames, health, MiB, openDeaf, percentile, probeHealth, rssBytes, seed, smallObjectData } from './helpers/memory';
import { serverTestScope } from './helpers/scope';
import { waitFor } from './helpers/wait';

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('server memory bounds', () => {
  const { start, spawn, login, connect, defer } = serverTestScope();

  it('readers that stop reading mid catch-up hold at most a page each: the heap stays flat, health answers, the data is intact', async () => {
    const maxPageBytes = 256 * 1024;
    const maxSendBufferBytes = MiB;
    const server = await start({ maxPageBytes, maxSendBufferBytes });
    // 10 MiB of records made of small objects: parsed, a page of them weighed several times that.
    const records = 40;
    await seed(server.store, 'default', 'todos', records, () => smallObjectData(256 * 1024), 4);
    global.gc?.();
    const baseline = process.memoryUsage().heapUsed;

    const readers = await Promise.all(Array.from({ length: 4 }, () => login(server.syncUrl)));
    const pings = setInterval(() => readers.forEach((r) => r.send({ type: 'ping' })), 50);
    defer(() => clearInterval(pings));
    for (const reader of readers) {
      reader.send({ type: 'request_all_events' });
      reader.socket.pause(); // reads nothing more, but keeps pinging
    }
    let peakHeap = 0;
    let peakBuffered = 0;
    const sampler = setInterval(() => (peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed - baseline)), 10);
    defer(() => clearInterval(sampler));
    const deadline = Date.now() + 1500;
    const latencies = await probeHealth(server.url, () => Date.now() > deadline, (h) => (peakBuffered = Math.max(peakBuffered, h.sendBufferBytes)));
    clearInterval(sampler);

    assert.ok(latencies.length > 10, `health answered while the readers were pinned (${latencies.length} answers)`);
    // Each reader holds one page in its send buffer (and a few pongs): never the bound, never the data.
    assert.ok(peakBuffered <= readers.length * maxSendBufferBytes, `send buffers ${peakBuffered} bytes`);
    assert.ok(peakBuffered >= readers.length * 64 * 1024, `the readers were really pinned (${peakBuffered} bytes unsent)`);
    assert.ok(peakHeap < 48 * MiB, `heap grew by ${(peakHeap / MiB).toFixed(1)} MiB for 4 pinned readers of 10 MiB`);

    const fresh = await login(server.syncUrl);
    const pages = await fresh.collect({ type: 'request_events', repository: 'todos' });
    assert.equal(pages.flatMap((p) => p.events).length, records, 'a reader that reads gets every record');
  });

  it('an unauthenticated flood of empty frames from 3 sockets that never read: replies are dropped past the bound, memory and health hold', async () => {
    const server = await spawn({ AUTH_TOKENS: 'secret=alpha' });
    const before = rssBytes(server.pid);
    const flooders = await Promise.all([0, 1, 2].map(() => openDeaf(server.syncUrl)));
    defer(() => flooders.forEach((s) => s.terminate()));
    let peakBuffered = 0;
    let peakRss = 0;
    // 300,000 frames or 6 s, whichever comes first (the machine may be slow).
    const deadline = Date.now() + 6000;
    const flooded = { frames: 0 };
    const stop = () => Date.now() > deadline || flooded.frames >= 300_000;
    const [latencies, ...sent] = await Promise.all([
      probeHealth(server.url, stop, (h) => {
        peakBuffered = Math.max(peakBuffered, h.sendBufferBytes);
        peakRss = Math.max(peakRss, rssBytes(server.pid));
      }),
      ...flooders.map((s) => floodEmptyFrames(s, stop, flooded)),
    ]);
    const frames = (sent as number[]).reduce((a, b) => a + b, 0);
    assert.ok(frames > 50_000, `the flood was real: ${frames} frames`);
    // Each socket stops getting replies once 256 KiB of them are unread (see Outbound).
    assert.ok(peakBuffered <= 3 * 512 * 1024, `unsent replies peaked at ${peakBuffered} bytes`);
    assert.ok(peakRss - before < 200 * MiB, `server RSS grew by ${((peakRss - before) / MiB).toFixed(0)} MiB`);
    assert.ok(latencies.length >= 5, `health answered during the flood (${latencies.length} answers)`);
    assert.ok(percentile(latencies, 99) < 1000, `health p99 ${percentile(latencies, 99).toFixed(0)} ms during the flood`);
  });

  it('a flood is answered at a bounded rate; the replies it dropped are counted in the next answer', async () => {
    const server = await start({ authTokens: new Map([['secret', 'alpha']]) });
    const client = await connect(server.syncUrl);
    const frames = 20_000;
    for (let i = 0; i < frames; i++) client.sendRaw('');
    // Probes until one is answered: the ones sent while replies are still being dropped are counted too.
    let probes = 0;
    const probe = setInterval(() => client.sendRaw(`not json ${probes++}`), 200);
    defer(() => clearInterval(probe));
    let answered = 0;
    let dropped = 0;
    let answeredProbe: number;
    for (;;) {
      const reply = await client.next('error', 10_000);
      const count = /^(\d+) replies to refused frames were dropped/.exec(reply.message)?.[1];
      if (count !== undefined) dropped += Number(count);
      const probed = /"not json (\d+)"/.exec(reply.message)?.[1];
      if (probed !== undefined) {
        answeredProbe = Number(probed);
        break;
      }
      if (count === undefined) answered++;
    }
    clearInterval(probe);
    assert.equal(answered + dropped, frames + answeredProbe, 'every refusal before the probe is answered or counted in a later answer');
    assert.ok(answered < frames / 10, `${answered} of ${frames} refusals answered, ${dropped} counted`);
    // Answered again once it slows down (a ping sent while its rate budget is still spent goes unanswered).
    const pinging = setInterval(() => client.send({ type: 'ping' }), 200);
    defer(() => clearInterval(pinging));
    assert.deepEqual(await client.next('pong', 10_000), { type: 'pong' });
  });

  it('REST /api/events cuts pages at maxPageBytes; hasMore and the last serverSequence continue it, nothing skipped', async () => {
    const maxPageBytes = 64 * 1024;
    const server = await start({ maxPageBytes });
    await seed(server.store, 'default', 'todos', 40, () => smallObjectData(10 * 1024), 10);
    const seen: number[] = [];
    let afterSequence = 0;
    for (let page = 0; page < 40; page++) {
      const response = await fetch(`${server.url}/api/events/todos?afterSequence=${afterSequence}`);
      const text = await response.text();
      assert.ok(Buffer.byteLength(text) <= maxPageBytes, `a body of ${Buffer.byteLength(text)} bytes`);
      const body = JSON.parse(text) as { events: { serverSequence: number }[]; hasMore: boolean };
      seen.push(...body.events.map((e) => e.serverSequence));
      if (!body.hasMore) break;
      assert.ok(body.events.length > 0);
      afterSequence = body.events.at(-1)!.serverSequence;
    }
    assert.deepEqual(seen, Array.from({ length: 40 }, (_, i) => i + 1), 'every event once, in order, over several pages');
    assert.ok(seen.length > 0 && afterSequence > 0, 'it took more than one page');
  });

  it('MAX_CONNECTIONS: the connection past the cap is refused with 503, whether or not the others authenticated', async () => {
    const server = await start({ maxConnections: 2 });
    const first = await connect(server.syncUrl);
    await login(server.syncUrl);
    await assert.rejects(TestClient.connect(server.syncUrl), /upgrade refused: 503/);
    first.socket.terminate();
    await first.closed;
    for (let i = 0; ; i++) {
      if ((await health(server.url)).activeConnections < 2) break;
      assert.ok(i < 100, 'the closed connection is freed');
      await delay(20);
    }
    await login(server.syncUrl);
  });

  it('a subscriber that does not read is closed with 1013 once its unsent broadcasts pass MAX_SEND_BUFFER_BYTES', async () => {
    const maxSendBufferBytes = 256 * 1024;
    // The writer may push more than the default byte budget (8 MiB burst) before the kernel's
    // buffers of the deaf socket fill: this test is about the send bound, not the byte rate.
    const unlimited = { perSecond: 1024 * MiB, burst: 1024 * MiB };
    const server = await start({ maxSendBufferBytes, connectionByteRate: unlimited, principalByteRate: unlimited });
    const deaf = await login(server.syncUrl);
    deaf.socket.pause();
    const writer = await login(server.syncUrl);
    let closed = false;
    void deaf.closed.then(() => (closed = true));
    for (let i = 0; i < 200 && !closed; i++) {
      const event = { eventId: `w${i}`, dataId: `r${i}`, operation: 0, createdAt: new Date(Date.UTC(2024, 0, 1) + i).toISOString(), data: smallObjectData(64 * 1024) };
      writer.send({ type: 'push_event', repository: 'todos', event });
      await writer.next('ack');
      assert.ok((await health(server.url)).sendBufferBytes <= maxSendBufferBytes + 128 * 1024, 'never past the bound (plus one frame)');
    }
    deaf.socket.resume();
    const { code } = await deaf.closed;
    assert.equal(code, 1013);
  });

  it('a token that expires mid catch-up ends the stream at its exp: no page and no sync_complete after auth_failed', async () => {
    const secret = 'memory-jwt-secret-0123456789abcdef';
    const server = await start({ jwtSecret: secret, maxPageBytes: 64 * 1024 });
    // About 10 MB: more than the kernel buffers of a socket that is not read (about 4 MB).
    const records = 300;
    await seed(server.store, 'team', 'todos', records, () => smallObjectData(32 * 1024), 50);
    const expiresAt = Math.ceil(Date.now() / 1000) + 2;
    const token = await new SignJWT({ namespace: 'team' }).setProtectedHeader({ alg: 'HS256' }).setSubject('ann').setExpirationTime(expiresAt).sign(new TextEncoder().encode(secret));
    const client = await login(server.syncUrl, token);
    client.send({ type: 'request_events', repository: 'todos' });
    client.socket.pause(); // the catch-up waits for this reader
    // The server's expiry is by real seconds, in its own timer: wait until the wall clock passed exp.
    await waitFor(() => Date.now() > expiresAt * 1000 + 200, 'the token to expire', 10_000);
    client.socket.resume();

    const received: string[] = [];
    let events = 0;
    for (;;) {
      const message = await client.next(undefined, 5000);
      received.push(message.type === 'error' ? `error:${message.code}` : message.type);
      if (message.type === 'events') events += message.events.length;
      if (message.type === 'error') break;
    }
    assert.equal(received.at(-1), 'error:auth_failed', 'the expiry is told');
    await client.nothing(undefined, 500);
    assert.ok(!received.includes('sync_complete'), 'the stream never completed');
    assert.ok(events < records, `${events} of ${records} events were sent before exp, none after`);
  });
});
