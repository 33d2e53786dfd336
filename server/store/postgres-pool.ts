/**
 * Connections to PostgreSQL that survive the database going away: a lost connection rejects the
 * requests using it and is replaced on the next checkout, never an uncaught 'error' event.
 */
import pg from 'pg';

/** bigint columns (sequences, counts) as numbers: sequences stay below 2^53 by protocol. */
const numericTypes: pg.CustomTypesConfig = {
  getTypeParser: (oid, format) => (oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format)),
};

/** How long a request waits for a connection while the database is unreachable before it fails. */
const CONNECT_TIMEOUT_MS = 5_000;
/** A connection silent this long is probed, so a vanished database host is noticed in seconds. */
const KEEPALIVE_DELAY_MS = 10_000;

/** `role` names the connection in pg_stat_activity: `tabsync` (the pool) or `tabsync-listen`. */
export function connectionConfig(url: string, role: string): pg.ClientConfig {
  return {
    connectionString: url,
    application_name: role,
    types: numericTypes,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  };
}

export function createPool(url: string, size: number): pg.Pool {
  const pool = new pg.Pool({ ...connectionConfig(url, 'tabsync'), max: size });
  // An idle connection dropped by a restarting server: the pool discards it and opens a new one
  // when needed, so there is nothing to do but not crash.
  pool.on('error', () => {});
  return pool;
}

/**
 * Runs `work` in one transaction on one connection. On any failure the transaction is rolled back
 * (by dropping the connection, which also discards a connection that broke mid-transaction).
 */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A checked-out connection has no pool listener: a drop between queries must not crash.
  let lost: Error | undefined;
  const onError = (error: Error) => { lost = error; };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    client.removeListener('error', onError);
    client.release();
    return result;
  } catch (error) {
    client.removeListener('error', onError);
    client.release(lost ?? (error as Error));
    throw error;
  }
}
