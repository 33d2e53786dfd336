/** A `navigator.storage` for the worker core in Node (which has none): a browser that persists. */
import type { StorageManagerLike } from '../../worker/storage/persistence';

export const grantingStorage: StorageManagerLike = {
  persisted: async () => true,
  estimate: async () => ({ usage: 2048, quota: 1 << 30 }),
};
