/**
 * The RxDB peer's server, a process of its own as the product's sync server is: a Node
 * RxDatabase on RxDB's memory storage, served by `startWebsocketServer` (the free
 * replication-websocket plugin) on 127.0.0.1. It prints `{"port":N}` once listening; each stdin
 * line `seed <collection> <count>` bulk-inserts the bench's seed records there and prints
 * `{"seeded":count}`.
 */
import { createRxDatabase, type RxCollection } from 'rxdb';
import { startWebsocketServer } from 'rxdb/plugins/replication-websocket';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { createInterface } from 'node:readline';
import { seedRecord } from '../seed-record';
import { RXDB_COLLECTIONS, todoSchema, type Todo } from './rxdb-schema';

async function seed(collection: RxCollection<Todo>, count: number): Promise<void> {
  for (let start = 0; start < count; start += 5_000) {
    const docs = Array.from({ length: Math.min(5_000, count - start) }, (_, k) => seedRecord(start + k));
    const { error } = await collection.bulkInsert(docs);
    if (error.length > 0) throw new Error(`seeding ${collection.name}: ${error.length} errors`);
  }
}

async function main(): Promise<void> {
  // multiInstance: false, as RxDB's docs do for a single Node process.
  const database = await createRxDatabase({ name: 'rxdb-bench-server', storage: getRxStorageMemory(), multiInstance: false });
  const collections = await database.addCollections(Object.fromEntries(RXDB_COLLECTIONS.map((name) => [name, { schema: todoSchema }])));
  const server = startWebsocketServer({ database, host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => (server.server.address() ? resolve() : server.server.once('listening', () => resolve())));
  const address = server.server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    const [command, name, count] = line.trim().split(' ');
    const collection = name ? (collections as Record<string, RxCollection<Todo>>)[name] : undefined;
    if (command !== 'seed' || !collection) throw new Error(`rxdb server: cannot do "${line}"`);
    await seed(collection, Number(count));
    process.stdout.write(`${JSON.stringify({ seeded: Number(count) })}\n`);
  }
  await database.close(); // stdin closed: the bench is done
}

main().catch((error: unknown) => {
  console.error(`rxdb server failed: ${error instanceof Error ? error.stack : String(error)}`);
  process.exit(1);
});
