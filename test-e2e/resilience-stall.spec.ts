/**
 * The stall watchdog in a real browser: a sync server that authenticates and takes pushes but
 * never acknowledges them (a scripted one on loopback; the demo worker's `ws` knob points the
 * worker at it). Within `stallAfter` the status says `stalled`, the demo says so, the worker
 * reconnects once and pushes again; an ack clears the stall.
 */
import type WebSocket from 'ws';
import type { SyncEvent } from '../protocol/messages';
import { sendTo, startFakeServer } from '../test/helpers/fake-server';
import { expect, status, test, upsert } from './fixtures';
import { openDemo, workerUrl } from './lifecycle';

test('writes a server takes but never acknowledges show stalled within stallAfter, one reconnect pushes them again, an ack clears it', async ({ context, server }) => {
  const pushes: { socket: WebSocket; events: SyncEvent[] }[] = [];
  const silent = await startFakeServer((socket, message) => {
    if (message.type === 'auth') sendTo(socket, { type: 'auth_success', principal: 'p', namespace: 'n', connectionId: 'c' });
    if (message.type === 'request_events') sendTo(socket, { type: 'sync_complete', repository: message.repository });
    if (message.type === 'push_event') pushes.push({ socket, events: [message.event] });
    if (message.type === 'push_events_batch') pushes.push({ socket, events: message.events });
  });
  try {
    const page = await openDemo(context, server.url, { worker: workerUrl({ ws: silent.url, stallAfter: 1000 }) });
    await expect.poll(async () => (await status(page)).authenticated).toBe(true);
    expect(silent.connections).toHaveLength(1);

    await upsert(page, { id: 'a', title: 'never acknowledged', done: false });
    await expect.poll(async () => (await status(page)).stalled, { timeout: 10_000 }).toBe(true);
    const stalled = await status(page);
    expect(stalled.stalledForMs).toBeGreaterThanOrEqual(1000);
    expect(stalled.lastError?.code).toBe('stalled');
    expect(stalled.pending).toBe(1);
    await expect(page.locator('#pending')).toContainText('has not confirmed');

    // One reconnect, whose session pushes the write again; no second one for the same stall.
    await expect.poll(() => pushes.length).toBe(2);
    expect(silent.connections).toHaveLength(2);
    expect(pushes[1]?.socket).toBe(silent.connections[1]);
    await page.waitForTimeout(2500);
    expect(silent.connections).toHaveLength(2);
    expect((await status(page)).stalled).toBe(true);

    const last = pushes.at(-1)!;
    const eventIds = last.events.map((event) => event.eventId);
    sendTo(last.socket, { type: 'ack', eventIds, repositories: { todos: eventIds } });
    await expect.poll(async () => (await status(page)).pending).toBe(0);
    await expect.poll(async () => (await status(page)).stalled).toBeUndefined();
    await expect(page.locator('#pending')).not.toContainText('has not confirmed');
  } finally {
    await silent.close();
  }
});
