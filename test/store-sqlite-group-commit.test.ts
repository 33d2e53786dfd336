/** SQLite group commit: pushes that arrive together share one transaction, and one refused
 *  push does not sink the others. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openSqliteStore } from '../server/store/sqlite';
import { makeEvent } from './store-contract';

test('appends arriving together are committed in at most two transactions, each with its own results', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tabsync-group-'));
  const store = openSqliteStore(join(dir, 'sync.db'));
  try {
    const commits: number[] = [];
    store.onAppended(({ maxSequence }) => void commits.push(maxSequence));
    const first = makeEvent('r0', 0);
    const appends = Array.from({ length: 10 }, (_, i) => store.append('ns', 'todos', [i === 0 ? first : makeEvent(`r${i}`, i), makeEvent(`s${i}`, i)]));
    const results = await Promise.all(appends);
    assert.ok(commits.length <= 2, `10 appends took ${commits.length} transactions`);
    assert.equal(commits.at(-1), 20);
    assert.deepEqual(results.map((r) => r.map((x) => x.event.dataId)), Array.from({ length: 10 }, (_, i) => [`r${i}`, `s${i}`]));
    assert.deepEqual(results.flat().map((x) => x.event.serverSequence), Array.from({ length: 20 }, (_, i) => i + 1), 'sequences in arrival order');

    // A duplicate inside a shared transaction is still recognised as one.
    const [again, fresh] = await Promise.all([store.append('ns', 'todos', [first]), store.append('ns', 'todos', [makeEvent('t0', 0)])]);
    assert.deepEqual([again?.[0]?.duplicate, fresh?.[0]?.duplicate], [true, false]);
    assert.equal(await store.maxSequence('ns'), 21);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
