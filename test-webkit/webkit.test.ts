/**
 * The demo in WebKit (WebKitGTK's MiniBrowser through WebKitWebDriver), against the real server
 * as `npm start` runs it: shared worker, one socket per profile, sync across tabs and profiles,
 * durability, the dedicated-worker fallback, and WebKit's own trap: closing the tab that created
 * the shared worker. `npm run test:webkit` (builds first, runs under `xvfb-run -a`).
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import type { Todo } from '../test-e2e/fixtures';
import { workerLocksHeld } from '../test-e2e/page-probes';
import { TEST_PAGE, TestServer } from '../test-e2e/server';
import { waitFor } from '../test/helpers/wait';
import { DemoTab, SETTLE_MS } from './demo-tab';
import { WebKitProfile } from './profile';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

async function startServer(): Promise<TestServer> {
  const server = await TestServer.start();
  cleanups.push(() => server.dispose());
  return server;
}

async function launchProfile(): Promise<WebKitProfile> {
  const profile = await WebKitProfile.launch();
  cleanups.push(() => profile.quit());
  return profile;
}

async function openTabs(profile: WebKitProfile, url: string, count: number): Promise<DemoTab[]> {
  const tabs: DemoTab[] = [];
  for (let i = 0; i < count; i++) tabs.push(await DemoTab.open(profile, url));
  return tabs;
}

test('three tabs share one socket, a write reaches the other tabs and a second profile, and nothing warns about persistent storage', async () => {
  const server = await startServer();
  const profile = await launchProfile();
  const first = await DemoTab.open(profile, server.url);
  await first.recordLogs();
  const tabs = [first, ...(await openTabs(profile, server.url, 2))];
  for (const tab of tabs) await tab.waitConnected();
  assert.equal((await server.health()).activeConnections, 1);
  const { worker, storage } = await first.diagnostics();
  assert.equal(worker.mode, 'shared');
  // WebKitGTK has no navigator.storage: the worker cannot tell, and says so.
  assert.equal(storage.persisted, 'unknown');

  const remote = await DemoTab.open(await launchProfile(), server.url);
  await remote.waitConnected();
  assert.equal((await server.health()).activeConnections, 2);

  const readers = [tabs[1]!, tabs[2]!, remote];
  for (const reader of readers) await reader.watch();
  const todo: Todo = { id: 'milk', title: 'Buy milk', done: false };
  await first.upsert(todo);
  for (const reader of readers) await reader.waitWatched([todo]);
  await first.waitSynced();
  assert.deepEqual(await server.records('todos'), [todo]);
  // Were tabs asked to persist there, each would fail and warn every attached tab.
  const warnings = (await first.logs()).filter((entry) => /persistent storage/.test(entry.message));
  assert.deepEqual(warnings, []);
});

test('a reload keeps every record, including a write still waiting for the server', async () => {
  const server = await startServer();
  const tab = await DemoTab.open(await launchProfile(), server.url);
  const synced: Todo = { id: 'a', title: 'Synced', done: true };
  await tab.upsert(synced);
  await tab.waitSynced();

  await server.stop();
  const waiting: Todo = { id: 'b', title: 'Waiting', done: false };
  await tab.upsert(waiting);
  assert.equal((await tab.status()).pending, 1);
  // An empty server: after the reload, the records can only come from the browser's storage.
  server.wipeDatabase();
  await server.restart();

  await tab.profile.reload(tab.handle);
  assert.deepEqual(await tab.all(), [synced, waiting]);
  await tab.waitSynced();
  assert.deepEqual(await server.records('todos'), [waiting]);
});

test('a write made while the server is stopped survives closing every tab of the profile and arrives after the restart', async () => {
  const server = await startServer();
  const writerProfile = await launchProfile();
  const writer = await DemoTab.open(writerProfile, server.url);
  // A page of the origin that is not the app: it sees the profile's worker end.
  const onlooker = await writerProfile.open(`${server.url}/styles.css`);
  const reader = await DemoTab.open(await launchProfile(), server.url);
  await reader.watch();
  await writer.waitConnected();
  await reader.waitConnected();

  await server.stop();
  await writer.waitDisconnected();
  const todo: Todo = { id: 'offline', title: 'Written offline', done: false };
  await writer.upsert(todo);
  assert.equal((await writer.status()).pending, 1);
  // The profile's only app tab closes (its blank first tab keeps the browser): the worker ends,
  // only the outbox in IndexedDB is left.
  await writerProfile.close(writer.handle);
  await waitFor(async () => (await writerProfile.run(onlooker, workerLocksHeld)) === 0, 'the worker to end', SETTLE_MS);
  await server.restart();

  const reopened = await DemoTab.open(writerProfile, server.url);
  await reader.waitWatched([todo]);
  await reopened.waitSynced();
  assert.deepEqual(await server.records('todos'), [todo]);
});

test('?mode=dedicated: a dedicated worker per tab, one leader holds the one socket, writes reach every tab', async () => {
  const server = await startServer();
  const tabs = await openTabs(await launchProfile(), `${server.url}${TEST_PAGE}?mode=dedicated`, 3);
  for (const tab of tabs) await tab.waitConnected();
  assert.equal((await server.health()).activeConnections, 1);
  // The election (a Web Lock) may still be settling when the first socket is up.
  const modesOf = () => Promise.all(tabs.map(async (tab) => (await tab.diagnostics()).worker.mode));
  let modes = await modesOf();
  await waitFor(async () => isDeepStrictEqual([...(modes = await modesOf())].sort(), ['follower', 'follower', 'leader']), 'one leader', SETTLE_MS);

  const writer = tabs[modes.indexOf('follower')]!;
  const readers = tabs.filter((tab) => tab !== writer);
  for (const reader of readers) await reader.watch();
  const todo: Todo = { id: 'f', title: 'from a follower', done: false };
  await writer.upsert(todo);
  for (const reader of readers) await reader.waitWatched([todo]);
  await writer.waitSynced();
  assert.deepEqual(await server.records('todos'), [todo]);
});

test('closing the tab that created the shared worker: the other tabs keep working, nothing is lost, no call hangs', async () => {
  const server = await startServer();
  const profile = await launchProfile();
  const [creator, second, third] = await openTabs(profile, server.url, 3);
  if (!creator || !second || !third) throw new Error('three tabs expected');
  const remote = await DemoTab.open(await launchProfile(), server.url);
  for (const tab of [second, third, remote]) await tab.watch();
  await second.waitConnected();
  const before: Todo = { id: 'a-before', title: 'written by the creator', done: false };
  await creator.upsert(before);
  await creator.waitSynced();

  await profile.close(creator.handle);
  // Each call settles (a hung one would outlast the script timeout, 30 s), and resolves.
  const after: Todo[] = [];
  for (const [i, tab] of [second, third, second, third].entries()) {
    const todo: Todo = { id: `b-after-${i}`, title: `written after the creator closed (${i})`, done: false };
    await tab.upsert(todo);
    after.push(todo);
  }
  const everything = [before, ...after];
  for (const tab of [second, third, remote]) await tab.waitWatched(everything);
  await second.waitSynced();
  assert.deepEqual(await server.records('todos'), everything);
  // Still one worker for the profile's tabs, holding one socket.
  const [left, right] = await Promise.all([second.diagnostics(), third.diagnostics()]);
  assert.equal(left.worker.id, right.worker.id);
  await waitFor(async () => (await server.health()).activeConnections === 2, 'one socket per profile', SETTLE_MS);
});
