// The demo's worker bundle: one SharedWorker for every tab of the demo (or, without SharedWorker,
// one dedicated worker per tab), syncing the todos.
import * as v from 'valibot';
import { startSyncWorker } from '../worker';

const protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';

// Test and demo knobs: `/sync-worker.js?heartbeatInterval=300&reconnectDelay=100&schemaVersion=2`
// overrides the config. A worker's identity is its URL, so another query is another worker.
const knobs = new URL(location.href).searchParams;
const knob = (name: string): number | undefined => (knobs.has(name) ? Number(knobs.get(name)) : undefined);

// `?idb=hang`: IndexedDB's open() never answers (as in some private windows); `?idb=throw`: it
// throws. Either leaves the worker in memory after `storageOpenTimeout`.
const idb = knobs.get('idb');
if (idb === 'hang' || idb === 'throw') {
  const broken = {
    open(): IDBOpenDBRequest {
      if (idb === 'throw') throw new DOMException('IndexedDB is disabled (test knob)', 'InvalidStateError');
      return {} as IDBOpenDBRequest; // a request that never fires
    },
  };
  Object.defineProperty(globalThis, 'indexedDB', { value: broken, configurable: true });
}

// `?ws=ws://host:port/sync`: another sync server on the same host (a test's misbehaving one). Never
// another host: the worker hands the server the tabs' credentials.
const sameHost = (url: string | null): url is string => {
  try {
    return url !== null && new URL(url).hostname === location.hostname;
  } catch {
    return false;
  }
};
const otherServer = knobs.get('ws');

startSyncWorker({
  websocketUrl: sameHost(otherServer) ? otherServer : `${protocol}//${location.host}/sync`,
  repositories: {
    todos: v.object({ id: v.string(), title: v.pipe(v.string(), v.maxLength(500)), done: v.boolean() }),
  },
  reconnectDelay: knob('reconnectDelay'),
  maxReconnectDelay: knob('maxReconnectDelay'),
  heartbeatInterval: knob('heartbeatInterval'),
  pongTimeout: knob('pongTimeout'),
  connectTimeout: knob('connectTimeout'),
  idleDisconnectDelay: knob('idleDisconnectDelay'),
  stallAfter: knob('stallAfter'),
  schemaVersion: knob('schemaVersion'),
  storageOpenTimeout: knob('storageOpenTimeout'),
});
