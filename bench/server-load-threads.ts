/**
 * bench:server's load generator as worker threads (server-load-clients.ts), so that the clients
 * use both cores instead of queueing behind one event loop: a generator that lags reports its own
 * backlog as the server's latency. The threads' CPU counts in this process's, reported apart.
 */
import { Worker } from 'node:worker_threads';
import type { ClientsReport, ClientsSetup, FromClients, ToClients } from './server-load-clients';

/** A thread does not inherit tsx's loader: it registers it, then imports the TypeScript module. */
const CLIENTS_MODULE = `import('tsx/esm/api').then((tsx) => tsx.tsImport(${JSON.stringify(new URL('./server-load-clients.ts', import.meta.url).href)}, ${JSON.stringify(import.meta.url)}))`;

export class LoadThreads {
  private constructor(private readonly workers: Worker[]) {}

  /** Starts `threads` threads, each with every `threads`-th client; resolves once all are connected. */
  static async connect(clients: ClientsSetup['clients'], threads: number, sampleEvery: number): Promise<LoadThreads> {
    const workers = Array.from({ length: threads }, (_, thread) => {
      const setup: ClientsSetup = { thread, clients: clients.filter((_, i) => i % threads === thread), sampleEvery };
      return new Worker(CLIENTS_MODULE, { eval: true, workerData: setup });
    });
    const load = new LoadThreads(workers);
    try {
      await load.all('connected');
    } catch (error) {
      load.close();
      throw error;
    }
    return load;
  }

  /** Pushes `rate` events per second in total, split evenly over the threads. */
  async push(rate: number, seconds: number, measured: boolean): Promise<void> {
    await this.ask({ type: 'push', rate: rate / this.workers.length, seconds, measured }, 'pushed');
  }

  /** Waits for the measured events' acks and broadcasts; what all threads saw, together. */
  async settle(timeoutMs: number): Promise<ClientsReport> {
    const reports = await this.ask({ type: 'settle', timeoutMs }, 'report');
    const errors = new Map<string, number>();
    for (const [code, count] of reports.flatMap((r) => r.errors)) errors.set(code, (errors.get(code) ?? 0) + count);
    return {
      acked: sum(reports.map((r) => r.acked)),
      ackLatencies: reports.flatMap((r) => r.ackLatencies),
      delivered: sum(reports.map((r) => r.delivered)),
      deliveryLatencies: reports.flatMap((r) => r.deliveryLatencies),
      errors: [...errors],
      unacked: sum(reports.map((r) => r.unacked)),
    };
  }

  close(): void {
    for (const worker of this.workers) {
      worker.postMessage({ type: 'close' } satisfies ToClients);
      // A thread still busy is ended anyway; its sockets go with it.
      setTimeout(() => void worker.terminate(), 1000).unref();
    }
  }

  private async ask(message: ToClients, answer: FromClients['type']): Promise<ClientsReport[]> {
    const answers = this.all(answer);
    for (const worker of this.workers) worker.postMessage(message);
    return answers;
  }

  /** Every thread's next message, which must be `type` (a `failed` or an exit rejects). */
  private all(type: FromClients['type']): Promise<ClientsReport[]> {
    return Promise.all(
      this.workers.map(
        (worker) =>
          new Promise<ClientsReport>((resolve, reject) => {
            const onExit = (code: number) => reject(new Error(`a load thread exited (${code})`));
            worker.once('error', reject);
            worker.once('exit', onExit);
            worker.once('message', (message: FromClients) => {
              worker.off('error', reject);
              worker.off('exit', onExit);
              if (message.type === 'failed') reject(new Error(message.error));
              else if (message.type !== type) reject(new Error(`a load thread answered ${message.type}, not ${type}`));
              else resolve(message.type === 'report' ? message.report : EMPTY);
            });
          }),
      ),
    );
  }
}

const EMPTY: ClientsReport = { acked: 0, ackLatencies: [], delivered: 0, deliveryLatencies: [], errors: [], unacked: 0 };
const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
