/**
 * The facade's calls (src/calls.ts) against a worker that answers over a MessageChannel: what a
 * call answered is not kept once the app let go of it.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expose, type Endpoint } from 'comlink';
import { connect, type SyncClient } from '../src';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const clients: SyncClient[] = [];
const ports: MessagePort[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  for (const port of ports.splice(0)) port.close();
});

/** A worker that answers attach, detach and getAll (with a fresh list each time). */
function answeringWorker(): MessagePort {
  const { port1, port2 } = new MessageChannel();
  ports.push(port1, port2);
  const status = { connected: false };
  expose({ attach: async () => ({ status, workerId: 'w' }), detach: async () => {}, getAll: async () => [{ id: 'a', text: 'x'.repeat(1000) }] }, port1 as unknown as Endpoint);
  return port2;
}

describe('calls to the worker', () => {
  it('keep nothing of an answer once the app let go of it, while the worker lives', async () => {
    const client = connect({ worker: answeringWorker, autoStart: false });
    clients.push(client);
    const todos = client.repository('todos');
    await todos.getAll();
    const answers: WeakRef<object>[] = [];
    for (let i = 0; i < 20; i++) answers.push(new WeakRef(await todos.getAll()));
    // A WeakRef's target outlives the job that made it: collect after this job.
    await new Promise(setImmediate);
    collectGarbage();
    assert.equal(answers.filter((answer) => answer.deref() !== undefined).length, 0, 'every answer collected');
  });
});
