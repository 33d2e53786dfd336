import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProtocolSuite } from './server-protocol';

runProtocolSuite('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tabsync-protocol-'));
  return { url: join(dir, 'sync.db'), drop: async () => rmSync(dir, { recursive: true, force: true }) };
});
