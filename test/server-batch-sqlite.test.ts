/** push_batch over SQLite: one fresh file per server. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBatchSuite } from './server-batch';

runBatchSuite('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tabsync-batch-db-'));
  return { url: join(dir, 'sync.db'), drop: async () => rmSync(dir, { recursive: true, force: true }) };
});
