/**
 * The servers, clients and timers one test starts, each stopped after it (by the enclosing
 * describe's afterEach, last started first), so that a failing assertion leaves nothing running.
 */
import { afterEach } from 'node:test';
import type { StartOptions } from '../../server/app';
import type { ServerConfig } from '../../server/config';
import { authed, TestClient, type AuthedClient, type ConnectOptions } from './client';
import { spawnServer, startTestServer, type SpawnedServer, type TestServer } from './server';

export interface ServerTestScope {
  start(overrides?: Partial<ServerConfig>, options?: StartOptions): Promise<TestServer>;
  spawn(env: Record<string, string>): Promise<SpawnedServer>;
  connect(url: string, options?: ConnectOptions): Promise<TestClient>;
  login(url: string, token?: string, options?: ConnectOptions): Promise<AuthedClient>;
  /** Anything else to undo after the test (an interval, a raw socket). */
  defer(cleanup: () => Promise<void> | void): void;
}

export function serverTestScope(): ServerTestScope {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const defer = (cleanup: () => Promise<void> | void) => void cleanups.push(cleanup);
  // Terminated, not closed: a client that stopped reading would never finish a close handshake.
  const tracked = <T extends TestClient>(client: T): T => (defer(() => client.socket.terminate()), client);
  return {
    start: async (overrides = {}, options) => {
      const server = await startTestServer(overrides, options);
      defer(() => server.stop());
      return server;
    },
    spawn: async (env) => {
      const server = await spawnServer(env);
      defer(() => server.stop());
      return server;
    },
    connect: async (url, options) => tracked(await TestClient.connect(url, options)),
    login: async (url, token, options) => tracked(await authed(url, token, options)),
    defer,
  };
}
