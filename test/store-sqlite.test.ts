import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openSqliteStore, READ_COMPACTED } from '../server/store/sqlite';
import { assertUsage, keptLog, makeEvent, runStoreContract, sizeOf } from './store-contract';

runStoreContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tabsync-store-'));
  const file = join(dir, 'nested', 'sync.db');
  const { log, lines } = keptLog();
  return {
    store: openSqliteStore(file, { log }),
    logged: () => lines,
    reopen: async () => openSqliteStore(file, { log }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

describe('sqlite store: the file', () => {
  let dir: string;
  let db: Database.Database;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tabsync-store-'));
    const store = openSqliteStore(join(dir, 'sync.db'));
    for (let round = 0; round < 5; round++) {
      await store.append('ns', 'todos', Array.from({ length: 200 }, (_, i) => makeEvent(`r${i}`, round * 1000 + i)));
    }
    await store.close();
    db = new Database(join(dir, 'sync.db'));
    db.exec('ANALYZE');
  });
  after(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is in WAL mode', () => {
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  });

  for (const since of [null, '2024-01-01T00:00:10.000Z']) {
    it(`reads the compacted view by an index range scan in sequence order (since ${since ?? 'absent'})`, () => {
      const plan = db
        .prepare<[object], { detail: string }>('EXPLAIN QUERY PLAN ' + READ_COMPACTED)
        .all({ namespace: 'ns', repository: 'todos', afterSequence: 500, since, limit: 501 })
        .map((row) => row.detail);
      assert.ok(plan.some((d) => /SEARCH r USING (COVERING )?INDEX records_by_winner \(namespace=\? AND repository=\? AND winner_sequence>\?\)/.test(d)), plan.join('\n'));
      assert.ok(!plan.some((d) => /TEMP B-TREE|SCAN/.test(d)), `no sort, no full scan:\n${plan.join('\n')}`);
    });
  }
});

describe('sqlite store: a file written before the namespace quota', () => {
  it('counts what each namespace holds once, exactly, when opened', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tabsync-store-'));
    try {
      const file = join(dir, 'sync.db');
      const events = [makeEvent('a', 1, { data: { title: 'é\u{1F600}' } }), makeEvent('b', 2)];
      const store = openSqliteStore(file);
      await store.append('ns', 'todos', events);
      await store.close();
      const db = new Database(file);
      db.exec('ALTER TABLE namespaces DROP COLUMN bytes'); // the schema before the quota
      db.close();

      const reopened = openSqliteStore(file);
      try {
        await assertUsage(reopened, 'ns', sizeOf('todos', events));
      } finally {
        await reopened.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
