/**
 * A fresh PostgreSQL database per test file or suite, on the local server CI always runs. When
 * that server is unreachable the caller fails with a message saying so: these tests never skip.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const POSTGRES_HOST_URL = 'postgres://postgres@127.0.0.1:5432';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

async function withAdminClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: `${POSTGRES_HOST_URL}/postgres`, connectionTimeoutMillis: 5_000 });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL is required by this test and is not reachable at ${POSTGRES_HOST_URL} (user postgres, trust auth): ` +
        `${(error as Error).message}. Start it (e.g. pg_ctlcluster 15 main start) and run the tests again.`,
    );
  }
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `tabsync_test_${randomBytes(6).toString('hex')}`;
  await withAdminClient((client) => client.query(`CREATE DATABASE ${name}`));
  return {
    url: `${POSTGRES_HOST_URL}/${name}`,
    drop: () => withAdminClient(async (client) => {
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }),
  };
}
