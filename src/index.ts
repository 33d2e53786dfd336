/**
 * The tab facade: `connect()` attaches the tab to the sync worker, which owns the socket, the
 * IndexedDB store and the outbox. This module only forwards calls (comlink) and fans out changes.
 */
export { connect } from './client';
export type { BatchWriteOf, ConnectOptions, Schemas, SyncClient } from './client';
export { SyncError } from './errors';
export type { Identified, Repository } from './repository';
export type { OrderBy, Query, QueryOptions, Where } from './query';
export type { ConnectionState, Credentials, Diagnostics, ServerErrorCode, SetAsideWrite, StoredRecord, SyncErrorCode, SyncErrorInfo, SyncStatus, TabErrorCode } from '../protocol/tab-api';
