/**
 * One browser profile, two users one after the other (static tokens of two namespaces): the
 * records every tab shows, the outbox and the cursor follow the namespace the server names; the
 * first user's offline write is never pushed into the second one's namespace and arrives in its own
 * once its credentials come back; clearLocalData removes a namespace's data from the browser.
 */
import type { Page } from '@playwright/test';
import { Operation } from '../protocol';
import { authed } from '../test/helpers/client';
import { connectAndWatch, upsert, waitSynced, watched, type Todo } from './fixtures';
import { diagnostics, expect, openDemo, serverJson, test } from './lifecycle';
import type { TestServer } from './server';

test.use({ serverEnv: { AUTH_TOKENS: 'token-a=alice,token-b=bob' } });

const todo = (id: string): Todo => ({ id, title: id, done: false });
const idsOf = (records: readonly Todo[] | undefined) => (records ?? []).map((record) => record.id).sort();

/** What the server holds in the token's namespace: record ids, and the highest sequence. */
async function serverSide(server: TestServer, token: string): Promise<{ ids: string[]; maxSequence: number }> {
  const { events } = await serverJson<{ events: { dataId: string; serverSequence: number }[] }>(server, '/api/events/todos?limit=1000', token);
  return { ids: events.map((event) => event.dataId).sort(), maxSequence: Math.max(0, ...events.map((event) => event.serverSequence)) };
}

/** Another device of the token's user writes a record. */
async function writeElsewhere(server: TestServer, token: string, id: string): Promise<void> {
  const client = await authed(`ws://127.0.0.1:${server.port}/sync`, token);
  try {
    client.send({ type: 'push_event', repository: 'todos', event: { eventId: `elsewhere-${id}`, dataId: id, operation: Operation.insert, createdAt: new Date().toISOString(), data: todo(id) } });
    await client.next('ack');
  } finally {
    await client.close();
  }
}

async function expectEveryTab(tabs: Page[], ids: string[]): Promise<void> {
  for (const tab of tabs) await expect.poll(async () => idsOf(await watched(tab))).toEqual(ids);
}

async function switchTo(tab: Page, token: string, namespace: string): Promise<void> {
  await tab.evaluate((authToken) => window.lf.updateAuthToken(authToken), token);
  await expect.poll(async () => (await diagnostics(tab)).storage.namespace).toBe(namespace);
}

test('records, outbox and cursor follow the namespace; the old user\'s offline write waits for their credentials; clearLocalData removes it', async ({ context, server }) => {
  await writeElsewhere(server, 'token-b', 'bob-1');
  await writeElsewhere(server, 'token-a', 'alice-0');
  const tabs = [await openDemo(context, server.url, { token: 'token-a' }), await openDemo(context, server.url, { token: 'token-a' })];
  const [first, second] = tabs as [Page, Page];
  await connectAndWatch(first, second);
  // Alice's cursor is past bob-1's sequence: had bob's catch-up started from it, bob-1 would be missed.
  await expect.poll(async () => (await diagnostics(first)).repositories['todos']?.cursor).toBe((await serverSide(server, 'token-a')).maxSequence);
  expect((await diagnostics(first)).repositories['todos']?.cursor).toBeGreaterThanOrEqual((await serverSide(server, 'token-b')).maxSequence);
  await upsert(first, todo('alice-1'));
  await waitSynced(first);
  await expectEveryTab(tabs, ['alice-0', 'alice-1']);

  // Alice writes offline, then bob logs in from the other tab.
  await first.evaluate(() => window.lf.stop());
  await upsert(first, todo('alice-offline'));
  // Bob's token before the socket is back: starting with alice's would (rightly) send her write.
  await second.evaluate((authToken) => window.lf.updateAuthToken(authToken), 'token-b');
  await second.evaluate(() => window.lf.start());
  await expect.poll(async () => (await diagnostics(second)).storage.namespace).toBe('bob');
  await expectEveryTab(tabs, ['bob-1']);
  await expect.poll(async () => (await diagnostics(first)).repositories['todos']?.cursor).toBe((await serverSide(server, 'token-b')).maxSequence);
  const asBob = await diagnostics(first);
  expect(asBob.outbox.pending).toBe(0);
  expect(asBob.storage.database).toBe('tabsync#bob');
  await upsert(first, todo('bob-2'));
  await waitSynced(first);
  expect((await serverSide(server, 'token-b')).ids).toEqual(['bob-1', 'bob-2']);
  expect((await serverSide(server, 'token-a')).ids).toEqual(['alice-0', 'alice-1']);

  // Alice back: her records in every tab, and her offline write delivered into her namespace.
  await switchTo(first, 'token-a', 'alice');
  await expectEveryTab(tabs, ['alice-0', 'alice-1', 'alice-offline']);
  await expect.poll(async () => (await serverSide(server, 'token-a')).ids).toEqual(['alice-0', 'alice-1', 'alice-offline']);
  await waitSynced(first);
  expect((await serverSide(server, 'token-b')).ids).toEqual(['bob-1', 'bob-2']);

  // Alice logs out, leaving nothing behind: not even the write she made after stopping.
  await first.evaluate(() => window.lf.stop());
  await upsert(first, todo('alice-unsent'));
  await first.evaluate(() => window.lf.clearLocalData());
  await expectEveryTab(tabs, []);
  const cleared = await diagnostics(second);
  expect(cleared.outbox.pending).toBe(0);
  expect(cleared.repositories['todos']?.cursor).toBe(0);
  // Bob's data was not touched, and alice's unsent write went nowhere.
  await first.evaluate(() => window.lf.start());
  await switchTo(second, 'token-b', 'bob');
  await expectEveryTab(tabs, ['bob-1', 'bob-2']);
  await waitSynced(first);
  expect((await serverSide(server, 'token-a')).ids).toEqual(['alice-0', 'alice-1', 'alice-offline']);
  expect((await serverSide(server, 'token-b')).ids).toEqual(['bob-1', 'bob-2']);
});
