/**
 * A record pinned at the latest timestamp the protocol allows (year 9999, e.g. written by a device
 * with a broken clock) stays editable: the next local event stays at that ceiling and wins the
 * `(createdAt, eventId)` order by its eventId, everywhere. The worker core against the real server.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { EVENT_ID } from '../protocol/limits';
import { compareEvents, eventIdAfter, LATEST_TIMESTAMP_MS, nextTimestamp } from '../protocol/order';
import { authed, type AuthedClient } from './helpers/client';
import { TestServers } from './helpers/server';
import { settled, TestCores, waitFor } from './helpers/worker';

const servers = new TestServers();
const cores = new TestCores();
const clients: AuthedClient[] = [];
const CEILING = '9999-12-31T23:59:59.999Z';

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await cores.closeAll();
  await servers.stopAll();
});

test('the next timestamp never passes the ceiling, and ties there are won by a valid eventId that sorts after', () => {
  assert.equal(new Date(LATEST_TIMESTAMP_MS).toISOString(), CEILING);
  assert.equal(nextTimestamp(Date.now(), { createdAt: CEILING, eventId: 'x' }), CEILING);
  assert.equal(nextTimestamp(Date.parse('2026-01-01T00:00:00.000Z'), { createdAt: '9999-12-31T23:59:59.998Z', eventId: 'x' }), CEILING);
  // Edit after edit at the ceiling, from a nanoid-long id that sorts as high as one can, and own
  // ids that sort low and high: each wins over the last.
  let replaced = { createdAt: CEILING, eventId: 'z'.repeat(21) };
  const seen = new Set<string>();
  for (let edit = 0; edit < 2000; edit++) {
    const own = edit % 2 ? `-${edit}-AAAAAAAAAAAAAAAAAAAA` : `${edit}_${Math.random().toString(36).slice(2)}`;
    const next = { createdAt: nextTimestamp(Date.now(), replaced), eventId: eventIdAfter(replaced.eventId, own) };
    assert.ok(compareEvents(next, replaced) > 0, `edit ${edit} wins over ${replaced.eventId}`);
    assert.match(next.eventId, EVENT_ID);
    assert.ok(!seen.has(next.eventId), 'a fresh id each time');
    seen.add(next.eventId);
    replaced = next;
  }
  assert.equal(eventIdAfter('aaa', 'bbb'), 'bbb', 'an id that already sorts after stays as it is');
});

test('a record another device pinned at year 9999 stays editable: the edit is stored, wins and reaches other devices', async () => {
  const s = await servers.start();
  const other = await authed(s.syncUrl);
  clients.push(other);
  other.send({ type: 'push_event', repository: 'todos', event: { eventId: 'far-future', dataId: 'pinned', operation: 0, createdAt: CEILING, data: { id: 'pinned', title: 'from the future', done: false } } });
  await other.next('ack');

  const editor = await cores.open(s.syncUrl);
  await editor.api.start();
  await waitFor(async () => (await editor.api.get('todos', 'pinned')) !== undefined, 'the pinned record to arrive');
  await editor.api.upsert('todos', { id: 'pinned', title: 'edited', done: true });
  await editor.api.delete('todos', 'pinned');
  await editor.api.upsert('todos', { id: 'pinned', title: 'edited again', done: false });
  await settled(editor, 'the edits to be acknowledged');
  const diagnostics = await editor.api.diagnostics();
  assert.deepEqual(diagnostics.outbox.setAside, [], 'nothing set aside');
  assert.equal(diagnostics.connection.lastError, undefined);

  const pushed = editor.traffic.sent.flatMap((m) => (m.type === 'push_event' ? [m.event] : m.type === 'push_events_batch' ? m.events : []));
  assert.deepEqual(pushed.map((event) => event.createdAt), [CEILING, CEILING, CEILING]);
  // The server's view, and a fresh device's, pick the last edit.
  const reader = await cores.open(s.syncUrl);
  await reader.api.start();
  await settled(reader);
  assert.deepEqual(await reader.api.get('todos', 'pinned'), { id: 'pinned', title: 'edited again', done: false });
  assert.deepEqual(await editor.api.get('todos', 'pinned'), { id: 'pinned', title: 'edited again', done: false });
});
