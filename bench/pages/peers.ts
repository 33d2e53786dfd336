/** The page of the query and batch scenarios: tabsync, Dexie and the floor, driven by bench/queries.ts. */
import { dexiePeer } from './dexie-peer';
import { productQuery } from './query-product';
import { queryFloor } from './query-floor';

const peers = { ...productQuery, ...dexiePeer, ...queryFloor };
(globalThis as Record<string, unknown>)['peers'] = peers;
export type Peers = typeof peers;
