/** push_batch over PostgreSQL: one fresh database per server. */
import { createTestDatabase } from './helpers/postgres';
import { runBatchSuite } from './server-batch';

runBatchSuite('postgres', createTestDatabase, true);
