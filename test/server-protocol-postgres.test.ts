/** The sync server's protocol suite over PostgreSQL: one fresh database per server. */
import { createTestDatabase } from './helpers/postgres';
import { runProtocolSuite } from './server-protocol';

runProtocolSuite('postgres', createTestDatabase);
