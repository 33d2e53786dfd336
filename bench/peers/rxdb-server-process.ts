/** Starts bench/peers/rxdb-server.ts as a child process and speaks its line protocol. */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface RxdbServer {
  /** ws://127.0.0.1:port, for replicateWithWebsocketServer. */
  url: string;
  /** Bulk-inserts the bench's first `count` seed records into the server's collection `name`. */
  seed(name: string, count: number): Promise<void>;
  stop(): void;
}

export async function startRxdbServer(): Promise<RxdbServer> {
  const file = fileURLToPath(new URL('./rxdb-server.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', file], { stdio: ['pipe', 'pipe', 'inherit'] });
  const replies: ((line: Record<string, number>) => void)[] = [];
  const failures: ((error: Error) => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => replies.shift()?.(JSON.parse(line) as Record<string, number>));
  child.on('exit', (code) => { for (const fail of failures.splice(0)) fail(new Error(`rxdb server exited (${code})`)); });
  const next = () => new Promise<Record<string, number>>((resolve, reject) => { replies.push(resolve); failures.push(reject); });
  const { port } = await next();
  return {
    url: `ws://127.0.0.1:${port}`,
    async seed(name, count) {
      const reply = next();
      child.stdin.write(`seed ${name} ${count}\n`);
      if ((await reply)['seeded'] !== count) throw new Error(`rxdb server: seeding ${name} failed`);
    },
    stop: () => { child.stdin.end(); setTimeout(() => child.kill('SIGKILL'), 2_000).unref(); },
  };
}
