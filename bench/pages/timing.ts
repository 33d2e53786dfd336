/** One clock for every tab and worker of a browser: absolute high-resolution milliseconds. */
export const now = (): number => performance.timeOrigin + performance.now();

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

/** p50, p99 and the count of latency samples in ms. */
export const summary = (samples: readonly number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), n: samples.length };
};

/** Resolves with the next message on `channel` that satisfies `match`. */
export function nextMessage<T>(channel: BroadcastChannel, match: (data: T) => boolean): Promise<T> {
  return new Promise((resolve) => {
    const onMessage = (e: MessageEvent<T>) => {
      if (!match(e.data)) return;
      channel.removeEventListener('message', onMessage);
      resolve(e.data);
    };
    channel.addEventListener('message', onMessage);
  });
}

/** The largest gap between timer ticks while `work` runs: how long the tab was unresponsive. */
export async function measureLongestStall<T>(work: () => Promise<T>): Promise<{ result: T; longestStallMs: number }> {
  let last = performance.now(), longest = 0;
  const timer = setInterval(() => {
    const t = performance.now();
    longest = Math.max(longest, t - last - 10);
    last = t;
  }, 10);
  try {
    return { result: await work(), longestStallMs: Math.max(0, longest) };
  } finally {
    clearInterval(timer);
  }
}
