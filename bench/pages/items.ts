/**
 * What the query and batch scenarios store and ask, the same for tabsync, Dexie and the floor:
 * records with an indexed `rank`, and the window "rank in [0, 1e9), ascending, first 50".
 */
import { nextMessage, now, summary } from './timing';

export interface Item {
  id: string;
  rank: number;
  title: string;
  done: boolean;
}

export const WINDOW = 50;
export const RANK_LOW = 0;
export const RANK_HIGH = 1e9;

export const itemOf = (i: number, prefix = 'item'): Item => ({ id: `${prefix}-${String(i).padStart(6, '0')}`, rank: i * 10, title: `Item number ${i}`, done: i % 3 === 0 });

/** The k-th write that enters the window: its rank (5 down to 4) sits below every earlier entering
 *  write's and above the first seeded record's (0), so it enters at the window's second place. */
export const enteringItem = (k: number): Item => ({ id: `enter-${k}-${Math.random().toString(36).slice(2, 8)}`, rank: 5 - k / 10_000, title: 'entering', done: false });

/** The watching and the writing tab of a profile talk over this channel. */
export const channel = new BroadcastChannel('bench-peers');

/** A watch callback for the watching tab: tells the writing tab when each record first appears. */
export function reportEntries(): (records: readonly { id: string }[]) => void {
  const seen = new Set<string>();
  return (records) => {
    const t = now();
    for (const { id } of records) {
      if (seen.has(id)) continue;
      seen.add(id);
      channel.postMessage({ id, t });
    }
  };
}

/** In the writing tab: `n` writes one at a time, each timed until the watching tab saw it enter. */
export async function timeEntering(n: number, write: (item: Item) => Promise<unknown>) {
  const samples: number[] = [];
  for (let k = 0; k < n; k++) {
    const item = enteringItem(k);
    const seen = nextMessage<{ id: string; t: number }>(channel, (d) => d.id === item.id);
    const t0 = now();
    await write(item);
    samples.push((await seen).t - t0);
  }
  return summary(samples);
}

/** `count` records, in chunks of `size`, `inFlight` chunks written at a time. */
export async function inChunks(count: number, size: number, inFlight: number, write: (items: Item[]) => Promise<unknown>, prefix?: string): Promise<void> {
  const starts = Array.from({ length: Math.ceil(count / size) }, (_, c) => c * size);
  for (let g = 0; g < starts.length; g += inFlight) {
    await Promise.all(starts.slice(g, g + inFlight).map((start) => write(Array.from({ length: Math.min(size, count - start) }, (_, k) => itemOf(start + k, prefix)))));
  }
}
