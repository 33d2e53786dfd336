/**
 * Persistent storage where the engine has no `navigator.storage` (WebKitGTK, where a tab's
 * `navigator.storage.persist()` throws "undefined is not an object"): no tab is asked, nothing is
 * logged for it, and diagnostics say `unknown` instead of a guess. Where the engine has one, the
 * worker reports what it answers. A real server on loopback.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import type { Diagnostics } from '../protocol/tab-api';
import { grantingStorage } from './helpers/storage-manager';
import { TestServers } from './helpers/server';
import { RecordingTab, settled, TestCores } from './helpers/worker';

const servers = new TestServers();
const cores = new TestCores();

afterEach(async () => {
  await cores.closeAll();
  await servers.stopAll();
});

/** A tab of an engine without `navigator.storage`: asking it fails as WebKitGTK's does. */
class TabWithoutStorage extends RecordingTab {
  override async persist(): Promise<boolean> {
    this.persistRequests++;
    throw new TypeError("undefined is not an object (evaluating 'navigator.storage.persist')");
  }
}

test('without navigator.storage no tab is asked to persist, nothing is logged for it, and diagnostics say unknown', async () => {
  const s = await servers.start();
  const c = await cores.open(s.syncUrl);
  const tabs = [new TabWithoutStorage(), new TabWithoutStorage(), new TabWithoutStorage()];
  for (const [i, tab] of tabs.entries()) await c.tab(`tab-${i}`).attach(tab);
  await c.api.start();
  // A question would have been sent at attach, and its failure logged long before the socket is up.
  await settled(c);

  assert.deepEqual(tabs.map((tab) => tab.persistRequests), [0, 0, 0]);
  assert.deepEqual(c.logger.warnings, []);
  assert.deepEqual(tabs.flatMap((tab) => tab.logs), []);
  const { storage } = await c.api.diagnostics();
  assert.deepEqual(persistence(storage), { persisted: 'unknown' });
});

test("with navigator.storage, diagnostics report the browser's answers", async () => {
  const s = await servers.start();
  const granting = await cores.open(s.syncUrl, { storageManager: grantingStorage });
  await granting.tab('tab').attach(new RecordingTab());
  assert.deepEqual(persistence((await granting.api.diagnostics()).storage), { persisted: true, usageBytes: 2048, quotaBytes: 1 << 30 });

  // An engine that has the object but tells nothing of it: unknown, no usage.
  const silent = await cores.open(s.syncUrl, { storageManager: {} });
  await silent.tab('tab').attach(new RecordingTab());
  assert.deepEqual(persistence((await silent.api.diagnostics()).storage), { persisted: 'unknown' });
});

/** What the storage manager told, leaving out the fields other tests cover (mode, namespace, losses). */
function persistence({ persisted, usageBytes, quotaBytes }: Diagnostics['storage']): Partial<Diagnostics['storage']> {
  return { persisted, ...(usageBytes === undefined ? {} : { usageBytes }), ...(quotaBytes === undefined ? {} : { quotaBytes }) };
}
