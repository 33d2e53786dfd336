// The demo's worker bundle: one SharedWorker for every tab of the demo (or, without SharedWorker,
// one dedicated worker per tab), syncing the todos. Its config is fixed: the test build alone
// (TEST_KNOBS, see test-knobs.ts) takes overrides from the script URL.
import * as v from 'valibot';
import { startSyncWorker } from '../worker';
import { workerKnobs } from './test-knobs';

const protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';

startSyncWorker({
  websocketUrl: `${protocol}//${location.host}/sync`,
  repositories: {
    todos: v.object({ id: v.string(), title: v.pipe(v.string(), v.maxLength(500)), done: v.boolean() }),
  },
  // Serves the filters: `where: { done }` in id order (the order the list shows) reads only the
  // window from IndexedDB; All is read in id order by the primary key.
  indexes: { todos: ['done'] },
  ...(TEST_KNOBS ? workerKnobs(new URL(location.href).searchParams) : {}),
});
