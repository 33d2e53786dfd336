/** Picks the event store from DATABASE_URL: a PostgreSQL URL, or else a SQLite file path. */
import type { EventStore, StoreLogOptions } from './event-store';
import { openSqliteStore } from './sqlite';

export interface StoreOptions extends StoreLogOptions {
  /** PostgreSQL connection pool size. */
  poolSize: number;
}

function isPostgresUrl(databaseUrl: string): boolean {
  return /^postgres(ql)?:\/\//i.test(databaseUrl);
}

export async function openStore(databaseUrl: string, options: StoreOptions): Promise<EventStore> {
  if (isPostgresUrl(databaseUrl)) {
    // Loaded only when asked for, so a SQLite deployment never touches the pg driver.
    const { openPostgresStore } = await import('./postgres');
    return openPostgresStore(databaseUrl, options);
  }
  return openSqliteStore(databaseUrl, options);
}
