/** The write scenarios' loops, shared by the product's bench page and its peers': only the write differs. */
import { nextMessage, now, summary } from './timing';

type Todo = { id: string; title: string; done: boolean };
type Upsert = (record: Todo) => Promise<unknown>;

/** This tab writes one record at a time; another tab of its profile reports on `channel` when its
 *  subscription first holds it. */
export async function crossTabLatency(channel: BroadcastChannel, n: number, upsert: Upsert) {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const id = `ct-${i}-${Math.random().toString(36).slice(2)}`;
    const seen = nextMessage<{ id: string; t: number }>(channel, (d) => d.id === id);
    const t0 = now();
    await upsert({ id, title: 'cross-tab', done: false });
    samples.push((await seen).t - t0);
  }
  return summary(samples);
}

/** Waits for `work`, or `capMs` at the most. */
async function within(work: Promise<unknown>, capMs: number): Promise<void> {
  if (!Number.isFinite(capMs)) return void (await work);
  let cancelCap = () => {};
  await Promise.race([work, new Promise((resolve) => { const timer = setTimeout(resolve, capMs); cancelCap = () => clearTimeout(timer); })]);
  cancelCap();
}

/** `n` writes awaited one by one (cut at `capMs`): writes per second, and how many completed. */
export async function writesOneByOne(n: number, upsert: Upsert, capMs = Infinity) {
  const t0 = now();
  let sequential = 0;
  while (sequential < n && now() - t0 < capMs) await upsert({ id: `seq-${sequential++}`, title: 'sequential', done: false });
  return { sequentialPerSec: sequential / ((now() - t0) / 1000), sequential };
}

/** `n` writes issued at once (cut at `capMs`): writes per second, and how many completed. */
export async function writesAtOnce(n: number, upsert: Upsert, capMs = Infinity) {
  const t1 = now();
  let parallel = 0;
  const all = Promise.all(Array.from({ length: n }, (_, i) => upsert({ id: `par-${i}`, title: 'parallel', done: false }).then(() => parallel++)));
  await within(all, capMs);
  return { concurrentPerSec: parallel / ((now() - t1) / 1000), parallel };
}

/**
 * `n` writes awaited one by one, then `n` at once: writes per second of each. With `capMs`, a
 * phase that runs longer is cut there and its rate is what completed by then (`completed` says
 * how many), so that a slow peer cannot hold the bench.
 */
export async function writeThroughput(n: number, upsert: Upsert, capMs = Infinity) {
  const { sequentialPerSec, sequential } = await writesOneByOne(n, upsert, capMs);
  const { concurrentPerSec, parallel } = await writesAtOnce(n, upsert, capMs);
  return { sequentialPerSec, concurrentPerSec, completed: { sequential, parallel, of: n } };
}
