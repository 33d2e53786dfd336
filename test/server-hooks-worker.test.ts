/**
 * The worker against a createSyncServer with `schemas` and `authorizeWrite`: the writes the server
 * refuses (invalid_record, forbidden) are set aside under those codes, not sent again, and the
 * writes after them sync.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import * as v from 'valibot';
import { authed } from './helpers/client';
import { RecordingTab, settled, TestCores } from './helpers/worker';
import { startHookedServer, type HookedServer } from './server-hooks-harness';

const cores = new TestCores();
let server: HookedServer | undefined;
afterEach(async () => {
  await cores.closeAll();
  await server?.close();
  server = undefined;
});

test('writes the server refuses are set aside with its code; the writes after them go', async () => {
  server = await startHookedServer({
    logLevel: 'silent',
    // Stricter than the worker's schema (titles of up to 500 characters).
    schemas: { todos: v.object({ id: v.string(), title: v.pipe(v.string(), v.maxLength(20)), done: v.boolean() }) },
    authorizeWrite: ({ events }) =>
      events.some((e) => String(e.data?.['title']).startsWith('secret')) ? { allow: false, reason: 'secrets stay off the server' } : { allow: true },
  });
  const c = await cores.open(server.syncUrl);
  await c.tab('tab').attach(new RecordingTab());
  await c.api.upsert('todos', { id: 'long', title: 'a title longer than twenty', done: false });
  await c.api.start();
  await settled(c, 'the refused write to be set aside');
  await c.api.upsert('todos', { id: 'secret', title: 'secret plan', done: false });
  await settled(c, 'the forbidden write to be set aside');
  await c.api.upsert('todos', { id: 'fine', title: 'fine', done: false });
  await settled(c, 'the good write to sync');

  const setAside = (await c.api.diagnostics()).outbox.setAside.map(({ id, code }) => ({ id, code }));
  assert.deepEqual(setAside, [
    { id: 'long', code: 'invalid_record' },
    { id: 'secret', code: 'forbidden' },
  ]);
  assert.equal((await c.api.get('todos', 'secret'))?.['title'], 'secret plan', 'the local copy stays');
  const pushed = c.traffic.sent.filter((m) => m.type === 'push_event' || m.type === 'push_events_batch').length;
  assert.equal(pushed, 3, 'each write was sent once: the refused ones not again');

  const reader = await authed(server.syncUrl);
  const pages = await reader.collect({ type: 'request_events', repository: 'todos' });
  assert.deepEqual(pages.flatMap((page) => page.events.map((e) => e.dataId)), ['fine']);
  await reader.close();
});
