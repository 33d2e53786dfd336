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

/** Counts transactions by their listener calls: one transaction's commits are announced in one synchronous run. */
function countTransactions(store: ReturnType<typeof openSqliteStore>) {
  const transactions: string[][] = [];
  let current: string[] | undefined;
  store.onAppended(({ namespace }) => {
    if (!current) {
      transactions.push((current = []));
      queueMicrotask(() => (current = undefined));
    }
    current.push(namespace);
  });
  return transactions;
}

test('appends to several namespaces arriving together share a transaction; each namespace keeps its own sequences', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tabsync-group-'));
  const store = openSqliteStore(join(dir, 'sync.db'));
  try {
    const transactions = countTransactions(store);
    const namespaces = Array.from({ length: 10 }, (_, i) => `ns${i}`);
    const appends = namespaces.flatMap((namespace) => [0, 1].map((k) => store.append(namespace, 'todos', [makeEvent(`${namespace}-${k}`, k)])));
    const results = await Promise.all(appends);
    assert.ok(transactions.length <= 2, `20 appends to 10 namespaces took ${transactions.length} transactions`);
    // The first append commits alone (nothing waited for it); all the others wait and go together.
    assert.deepEqual(transactions.at(-1), namespaces, 'one transaction announces every namespace, each once');
    assert.deepEqual(results.map((r) => r[0]!.event.serverSequence), namespaces.flatMap(() => [1, 2]), 'sequences per namespace, in arrival order');
    for (const namespace of namespaces) assert.equal(await store.maxSequence(namespace), 2);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("one namespace's refused append sinks no other namespace's append of the same transaction", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tabsync-group-'));
  const store = openSqliteStore(join(dir, 'sync.db'));
  try {
    const big = makeEvent('big', 1, { data: { blob: 'x'.repeat(2000) } });
    const [refused, ...stored] = await Promise.allSettled([
      store.append('full', 'todos', [big], { quotaBytes: 1000 }),
      ...['a', 'b', 'c'].map((namespace) => store.append(namespace, 'todos', [makeEvent(`${namespace}-1`, 1)], { quotaBytes: 1000 })),
    ]);
    assert.equal(refused.status, 'rejected');
    assert.equal((refused as PromiseRejectedResult).reason.code, 'quota_exceeded');
    assert.deepEqual(stored.map((s) => s.status), ['fulfilled', 'fulfilled', 'fulfilled']);
    assert.deepEqual(await Promise.all(['full', 'a', 'b', 'c'].map((namespace) => store.maxSequence(namespace))), [0, 1, 1, 1]);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
