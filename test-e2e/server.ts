/**
 * The real server as a child process (`node dist/server/main.js`) on a loopback port, with its
 * SQLite file in a temp dir. It can be stopped and started again on the same port and file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareEvents, type SequencedEvent } from '../protocol';

const STARTUP_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

export interface Health {
  status: string;
  database: string;
  activeConnections: number;
  uptimeSeconds: number;
}

/** The demo's test build (its knobs read from the URL), as the test server serves it. */
export const TEST_PAGE = '/test/index.html';

export class TestServer {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly directory: string,
    /** Extra environment for the process, e.g. AUTH_TOKENS. */
    private readonly env: Record<string, string> = {},
  ) {}

  static async start(env: Record<string, string> = {}): Promise<TestServer> {
    const server = new TestServer(await freePort(), mkdtempSync(join(tmpdir(), 'tabsync-e2e-')), env);
    await server.restart();
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the process (again) on the same port and database file; resolves once it answers. */
  async restart(): Promise<void> {
    if (this.child) throw new Error('the server is already running');
    const child = spawn(process.execPath, ['dist/server/main.js'], {
      env: {
        ...process.env,
        PORT: String(this.port),
        HOST: '127.0.0.1',
        DATABASE_URL: this.databasePath,
        LOG_LEVEL: 'silent',
        // The demo at `/`, and its test build with the tests' knobs at /test/ (esbuild.mjs).
        PUBLIC_DIR: 'dist/e2e-public',
        ...this.env,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) break;
      if (await this.health().then(() => true, () => false)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await this.stop();
    throw new Error(`the server did not start on port ${this.port}: ${stderr || 'no output'}`);
  }

  /** Graceful shutdown (SIGTERM), forced with SIGKILL if it takes too long. */
  stop(): Promise<void> {
    return this.end('SIGTERM');
  }

  /** The SQLite file the server writes (read it only while the server is stopped). */
  get databasePath(): string {
    return join(this.directory, 'sync.db');
  }

  /** Kills the process with SIGKILL: no shutdown, no flush, like a crash or a power cut. */
  kill(): Promise<void> {
    return this.end('SIGKILL');
  }

  private async end(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    const timer = signal === 'SIGTERM' ? setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS) : undefined;
    await exited;
    clearTimeout(timer);
  }

  /** Deletes the stopped server's database: what it serves next can only come from the browsers. */
  wipeDatabase(): void {
    if (this.child) throw new Error('stop the server before wiping its database');
    rmSync(this.directory, { recursive: true, force: true });
    mkdirSync(this.directory);
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.directory, { recursive: true, force: true });
  }

  async health(): Promise<Health> {
    return (await this.getJson('/api/health')) as Health;
  }

  /** The repository's records as the server's event log decides them (last writer wins). */
  /** Every page of the repository's compacted view (REST pages are cut at MAX_PAGE_BYTES / 500 events). */
  async allEvents(repository: string): Promise<SequencedEvent[]> {
    const events: SequencedEvent[] = [];
    for (let hasMore = true; hasMore; ) {
      const afterSequence = events.at(-1)?.serverSequence ?? 0;
      const page = (await this.getJson(`/api/events/${repository}?afterSequence=${afterSequence}`)) as { events: SequencedEvent[]; hasMore: boolean };
      events.push(...page.events);
      hasMore = page.hasMore && page.events.length > 0;
    }
    return events;
  }

  async records(repository: string): Promise<Record<string, unknown>[]> {
    const winners = new Map<string, SequencedEvent>();
    for (const event of await this.allEvents(repository)) {
      const current = winners.get(event.dataId);
      if (!current || compareEvents(event, current) > 0) winners.set(event.dataId, event);
    }
    return [...winners.values()]
      .filter((event) => event.data !== undefined)
      .map((event) => ({ ...event.data, id: event.dataId }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  private async getJson(path: string): Promise<unknown> {
    const response = await fetch(this.url + path);
    if (!response.ok) throw new Error(`GET ${path}: ${response.status}`);
    return response.json();
  }
}

/** A port nothing listens on at the moment, on the loopback interface. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
