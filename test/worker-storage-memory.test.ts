/** The in-memory storage (no IndexedDB) keeps the same contract as IndexedDB's. */
import { MemoryStorage } from '../worker/storage/memory-store';
import { storageContract } from './worker-storage-contract';

storageContract('memory', async () => new MemoryStorage());
