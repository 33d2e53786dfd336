/**
 * `tabsync/react`: React hooks over a tab's sync client, on `useSyncExternalStore`. An entry of its
 * own, so a tab that does not use React bundles none of it; `react` is an optional peer.
 */
export { useQuery, useRecord } from './use-query';
export type { LiveSource } from './use-query';
export { useSyncStatus } from './use-sync-status';
export type { StatusSource } from './use-sync-status';
