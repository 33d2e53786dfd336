// The sync worker of the query and batch scenarios: the `items` repository with its `rank`
// declared as an index, so the window sorted by rank is read along it (docs/queries.md).
import * as v from 'valibot';
import { startSyncWorker } from '../../worker';

startSyncWorker({
  websocketUrl: `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/sync`,
  repositories: {
    items: v.object({ id: v.string(), rank: v.number(), title: v.string(), done: v.boolean() }),
  },
  indexes: { items: ['rank'] },
  databaseName: 'bench-items',
});
