// The demo's worker bundle: one SharedWorker for every tab of the demo, syncing the todos.
import * as v from 'valibot';
import { startSyncWorker } from '../worker';

const protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';

startSyncWorker({
  websocketUrl: `${protocol}//${location.host}/sync`,
  repositories: {
    todos: v.object({ id: v.string(), title: v.pipe(v.string(), v.maxLength(500)), done: v.boolean() }),
  },
});
