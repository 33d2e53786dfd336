// Placeholder until the runtime lands.
export function startSyncWorker(): never { throw new Error('not built yet'); }
