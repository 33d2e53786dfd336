/**
 * The storage contract (test/worker-storage-contract.ts) in the browser's real IndexedDB: every
 * case on a fresh database, one after another; the results land on `window.storageContract` for
 * test-e2e/storage-contract.spec.ts. `node:test` and `node:assert/strict` are node-test.ts and
 * assert.ts here (esbuild.mjs).
 */
import { openIdbStorage } from '../../worker/storage/idb-store';
import type { SyncStorage } from '../../worker/storage/storage';
import { storageContract } from '../../test/worker-storage-contract';
import { cases } from './node-test';

export interface CaseResult {
  name: string;
  ok: boolean;
  error?: string;
}

declare global {
  interface Window {
    storageContract?: Promise<CaseResult[]>;
  }
}

let databases = 0;
const opened: { storage: SyncStorage; name: string }[] = [];

storageContract('IndexedDB in the browser', async () => {
  const name = `storage-contract-${Date.now()}-${++databases}`;
  const storage = await openIdbStorage(name);
  opened.push({ storage, name });
  return storage;
});

function removeDatabase(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
    // Blocked only until the closed connection's last transaction ends: success follows.
  });
}

async function runAll(): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const { name, run } of cases) {
    let result: CaseResult;
    try {
      await run();
      result = { name, ok: true };
    } catch (error) {
      result = { name, ok: false, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
    }
    for (const { storage, name: database } of opened.splice(0)) {
      storage.close();
      await removeDatabase(database);
    }
    results.push(result);
  }
  return results;
}

window.storageContract = runAll();
