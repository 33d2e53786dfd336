/**
 * The knobs browser tests need, read from the URL: built only into the test build of the demo
 * (dist/e2e-public/test/, served by the test server), never into the demo at `/`, where a crafted
 * link could otherwise point the profile's one database at another server or log it in with a
 * token of someone else's choosing. `TEST_KNOBS` is esbuild's define: false in the demo build, so
 * the minifier drops every use of this module there.
 */
import type { ConnectOptions } from '../src';
import type { SyncWorkerConfig } from '../worker';

declare global {
  /** True only in the test build (esbuild.mjs). */
  const TEST_KNOBS: boolean;
}

/** The test page's knobs: `?token=` the auth token, `?worker=` another worker script URL (with its
 *  own knobs), `?mode=dedicated` a dedicated worker per tab, `?callTimeout=` (ms). */
export function pageKnobs(params: URLSearchParams): Partial<ConnectOptions> {
  return {
    ...(params.has('worker') ? { worker: params.get('worker')! } : {}),
    mode: params.get('mode') === 'dedicated' ? 'dedicated' : 'shared',
    authToken: params.get('token') ?? undefined,
    ...(params.has('callTimeout') ? { callTimeout: Number(params.get('callTimeout')) } : {}),
  };
}

const NUMBER_KNOBS = ['reconnectDelay', 'maxReconnectDelay', 'heartbeatInterval', 'pongTimeout', 'connectTimeout', 'idleDisconnectDelay', 'stallAfter', 'schemaVersion', 'storageOpenTimeout'] as const;

/**
 * The test worker's knobs, from its script URL: the config numbers above
 * (`/test/sync-worker.js?heartbeatInterval=300&schemaVersion=2`); `?idb=hang` (IndexedDB's open()
 * never answers, as in some private windows) or `?idb=throw` (it throws); `?ws=` another sync
 * server on the same host (a test's misbehaving one; never another host, since the worker hands the
 * server the tabs' credentials); `?indexes=` the query indexes, as JSON (`{"todos":["done"]}`).
 */
export function workerKnobs(params: URLSearchParams): Partial<SyncWorkerConfig> {
  const config: Partial<Record<(typeof NUMBER_KNOBS)[number], number>> = {};
  for (const name of NUMBER_KNOBS) if (params.has(name)) config[name] = Number(params.get(name));
  breakIndexedDb(params.get('idb'));
  const ws = params.get('ws');
  const indexes = params.get('indexes');
  return { ...config, ...(ws !== null && sameHost(ws) ? { websocketUrl: ws } : {}), ...(indexes !== null ? { indexes: JSON.parse(indexes) as NonNullable<SyncWorkerConfig['indexes']> } : {}) };
}

function breakIndexedDb(how: string | null): void {
  if (how !== 'hang' && how !== 'throw') return;
  const broken = {
    open(): IDBOpenDBRequest {
      if (how === 'throw') throw new DOMException('IndexedDB is disabled (test knob)', 'InvalidStateError');
      return {} as IDBOpenDBRequest; // a request that never fires
    },
  };
  Object.defineProperty(globalThis, 'indexedDB', { value: broken, configurable: true });
}

function sameHost(url: string): boolean {
  try {
    return new URL(url).hostname === location.hostname;
  } catch {
    return false;
  }
}
