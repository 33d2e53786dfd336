/**
 * `npm run bench -- --profile crossTab,writes,initialSync`: a CPU profile of each shared worker
 * while a scenario runs, summed by function (self time), so that the next optimisation starts
 * from where the worker's time goes rather than from a guess. The worker is reached over the
 * browser's DevTools endpoint (one WebSocket per worker target), not through the page.
 */
import { WebSocket } from 'ws';

interface Target {
  type: string;
  url: string;
  webSocketDebuggerUrl: string;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
}

/** How many functions each summary lists. */
const TOP = 25;
/** Sampling interval in µs (Chromium's default is 1000; finer shows the short calls). */
const SAMPLING_INTERVAL_US = 100;

export async function sharedWorkerTargets(debuggingPort: number): Promise<Target[]> {
  const response = await fetch(`http://127.0.0.1:${debuggingPort}/json/list`);
  return ((await response.json()) as Target[]).filter((target) => target.type === 'shared_worker');
}

/** Starts profiling every shared worker of the browser; the returned function stops and prints. */
export async function profileSharedWorkers(debuggingPort: number, label: string): Promise<() => Promise<void>> {
  const sessions = await Promise.all((await sharedWorkerTargets(debuggingPort)).map(async (target) => {
    const session = await DevToolsSession.open(target.webSocketDebuggerUrl);
    await session.send('Profiler.enable');
    await session.send('Profiler.setSamplingInterval', { interval: SAMPLING_INTERVAL_US });
    await session.send('Profiler.start');
    return { target, session };
  }));
  return async () => {
    for (const { target, session } of sessions) {
      const { profile } = (await session.send('Profiler.stop')) as { profile: CpuProfile };
      session.close();
      printSummary(`${label}: ${target.url.replace(/^https?:\/\/[^/]+/, '')}`, profile);
    }
  };
}

function printSummary(title: string, profile: CpuProfile): void {
  const hits = new Map<number, number>();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const msPerSample = (profile.endTime - profile.startTime) / 1000 / Math.max(1, profile.samples.length);
  const byFunction = new Map<string, number>();
  for (const { id, callFrame } of profile.nodes) {
    const count = hits.get(id);
    if (!count) continue;
    const where = callFrame.url ? ` ${callFrame.url.split('/').pop()}:${callFrame.lineNumber + 1}` : '';
    const name = `${callFrame.functionName || '(anonymous)'}${where}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + count);
  }
  console.log(`\nprofile ${title}: ${((profile.endTime - profile.startTime) / 1000).toFixed(0)} ms, self time by function`);
  for (const [name, count] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
    console.log(`${(count * msPerSample).toFixed(1).padStart(9)} ms  ${name}`);
  }
}

/** The few DevTools protocol calls the profile needs, over the target's own WebSocket. */
export class DevToolsSession {
  private nextId = 0;
  private readonly replies = new Map<number, (result: unknown) => void>();

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as { id?: number; result?: unknown; error?: { message: string } };
      if (message.id === undefined) return;
      this.replies.get(message.id)?.(message.error ? Promise.reject(new Error(message.error.message)) : message.result);
      this.replies.delete(message.id);
    });
  }

  static async open(url: string): Promise<DevToolsSession> {
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    return new DevToolsSession(socket);
  }

  send(method: string, params: object = {}): Promise<unknown> {
    const id = ++this.nextId;
    return new Promise((resolve) => {
      this.replies.set(id, resolve);
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.socket.close();
  }
}
