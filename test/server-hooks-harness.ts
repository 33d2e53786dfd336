/**
 * For the hook tests: a real createSyncServer attached to a Node HTTP server on 127.0.0.1 (a free
 * port), its log lines kept, on SQLite in a temp dir or on a database the caller gives.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSyncServer, type SyncServerOptions } from '../server/create-sync-server';
import { TestClient } from './helpers/client';

export interface HookedServer {
  /** `http://127.0.0.1:port` */
  url: string;
  /** `ws://127.0.0.1:port/sync` */
  syncUrl: string;
  /** Every log line so far, parsed. */
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startHookedServer(options: SyncServerOptions): Promise<HookedServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tabsync-hooks-'));
  const logs: Record<string, unknown>[] = [];
  const app = createServer((_request, response) => response.end('app'));
  try {
    const sync = await createSyncServer({
      databaseUrl: join(dir, 'sync.db'),
      logLevel: 'info',
      logSink: (line) => logs.push(JSON.parse(line) as Record<string, unknown>),
      ...options,
    });
    sync.attach(app);
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const base = `127.0.0.1:${(app.address() as AddressInfo).port}`;
    return {
      url: `http://${base}`,
      syncUrl: `ws://${base}/sync`,
      logs,
      async close() {
        await sync.close();
        app.closeAllConnections();
        await new Promise((resolve) => app.close(resolve));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Things to undo after each test, last first. */
export class Cleanups {
  private readonly undo: (() => Promise<void>)[] = [];

  add(cleanup: () => Promise<void>): void {
    this.undo.push(cleanup);
  }

  async run(): Promise<void> {
    for (const cleanup of this.undo.splice(0).reverse()) await cleanup();
  }

  async client(url: string): Promise<TestClient> {
    const client = await TestClient.connect(url);
    this.add(() => client.close());
    return client;
  }
}
