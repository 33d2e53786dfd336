/**
 * The live fan-out through real sockets on a real server (SQLite): each event is serialized once
 * and each frame encoded once, the same bytes going to every subscriber, and those bytes are what
 * JSON.stringify of the `events` message gave before. With many subscribers a namespace's
 * commits are sent together (paced): still every event reaches every other subscriber once, in
 * order, and never its sender.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Operation, type SequencedEvent, type SyncEvent } from '../protocol';
import { sequenced } from '../server/store/event-rows';
import { authed, type AuthedClient } from './helpers/client';
import { TestServers } from './helpers/server';
import { waitFor } from './helpers/wait';
import { makeEvent } from './store-contract';

/** A client with every raw `events` frame it was sent, as the text on the wire. */
async function subscriber(url: string): Promise<AuthedClient & { frames: string[] }> {
  const client = await authed(url);
  const frames: string[] = [];
  client.socket.on('message', (data) => {
    const text = String(data);
    if (text.startsWith('{"type":"events"')) frames.push(text);
  });
  return Object.assign(client, { frames });
}

const eventsOf = (frames: readonly string[]) => frames.flatMap((frame) => (JSON.parse(frame) as { events: SequencedEvent[] }).events);

describe('live fan-out', () => {
  const servers = new TestServers();
  const clients: AuthedClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await servers.stopAll();
  });

  async function subscribers(url: string, count: number) {
    const connected = await Promise.all(Array.from({ length: count }, () => subscriber(url)));
    clients.push(...connected);
    return connected;
  }

  it('sends every subscriber the same bytes: JSON.stringify of the events message, as before', async () => {
    const server = await servers.start();
    const [sender, ...others] = await subscribers(server.syncUrl, 3);
    const event: SyncEvent = makeEvent('shared', 1, { data: { title: 'é ✓ "quoted"', nested: { list: [1, 2.5, null, true] } } });
    sender!.send({ type: 'push_event', repository: 'todos', event });
    await sender!.next('ack');
    await waitFor(() => others.every((o) => o.frames.length === 1), 'the broadcast');
    const [frame] = others[0]!.frames;
    const serverSequence = (JSON.parse(frame!) as { events: SequencedEvent[] }).events[0]!.serverSequence;
    assert.equal(frame, JSON.stringify({ type: 'events', repository: 'todos', events: [sequenced(event, serverSequence)] }));
    for (const other of others) assert.deepEqual(other.frames, [frame]);

    // A delete has no data: its text (built by the store around what it wrote) has no data key either.
    const removal: SyncEvent = makeEvent('shared', 2, { operation: Operation.delete, data: undefined });
    delete removal.data;
    sender!.send({ type: 'push_event', repository: 'todos', event: removal });
    await sender!.next('ack');
    await waitFor(() => others.every((o) => o.frames.length === 2), 'the second broadcast');
    const second = others[0]!.frames[1]!;
    assert.equal(second, JSON.stringify({ type: 'events', repository: 'todos', events: [sequenced(removal, serverSequence + 1)] }));
    for (const other of others) assert.deepEqual(other.frames, [frame, second]);
    assert.deepEqual(sender!.frames, [], 'no echo to the sender');
  });

  it('paced for many subscribers: every event to every other subscriber once and in order, none back to its sender, the same bytes to all', async () => {
    const server = await servers.start();
    const all = await subscribers(server.syncUrl, 40);
    const [first, second, ...others] = all;
    const pushes = (prefix: string) => Array.from({ length: 10 }, (_, i) => makeEvent(`${prefix}${i}`, i));
    const fromFirst = pushes('a');
    const fromSecond = pushes('b');
    // Sent without waiting for acks, interleaved: many commits in quick succession.
    for (let i = 0; i < 10; i++) {
      first!.send({ type: 'push_event', repository: 'todos', event: fromFirst[i] });
      second!.send({ type: 'push_event', repository: 'todos', event: fromSecond[i] });
    }
    await waitFor(() => others.every((o) => eventsOf(o.frames).length === 20) && eventsOf(first!.frames).length === 10 && eventsOf(second!.frames).length === 10, 'every broadcast');

    const ids = (events: readonly SequencedEvent[]) => events.map((e) => e.dataId);
    const received = eventsOf(others[0]!.frames);
    assert.deepEqual(ids(received.filter((e) => e.dataId.startsWith('a'))), ids(fromFirst.map((e) => sequenced(e, 0))), "the first sender's events in its order");
    assert.deepEqual(ids(received.filter((e) => e.dataId.startsWith('b'))), ids(fromSecond.map((e) => sequenced(e, 0))), "the second sender's in its order");
    const sequences = received.map((e) => e.serverSequence);
    assert.deepEqual(sequences, [...sequences].sort((x, y) => x - y), 'in sequence order');
    assert.equal(new Set(sequences).size, 20, 'each once');
    for (const other of others) assert.equal(other.frames.join('\n'), others[0]!.frames.join('\n'), 'the same frames to every subscriber that sent nothing');
    assert.deepEqual(ids(eventsOf(first!.frames)), ids(received.filter((e) => e.dataId.startsWith('b'))), 'the first sender gets only the others');
    assert.deepEqual(ids(eventsOf(second!.frames)), ids(received.filter((e) => e.dataId.startsWith('a'))), 'the second sender gets only the others');
  });
});
