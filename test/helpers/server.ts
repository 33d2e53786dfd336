/**
 * The sync server for tests: in-process (`startTestServer`) or as a child process
 * (`spawnServer`), on 127.0.0.1 with a free port and its SQLite file in a temp dir.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startServer, type RunningServer, type StartOptions } from '../../server/app';
import { loadConfig, type ServerConfig } from '../../server/config';

export interface TestServer extends RunningServer {
  /** The temp dir holding the SQLite file (unless a databaseUrl was given). */
  dir: string;
  /** Closes the server and removes the temp dir. */
  stop(): Promise<void>;
}

export async function startTestServer(overrides: Partial<ServerConfig> = {}, options: StartOptions = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tabsync-server-'));
  const config: ServerConfig = {
    ...loadConfig({}, []),
    host: '127.0.0.1',
    port: 0,
    databaseUrl: join(dir, 'sync.db'),
    publicDir: join(dir, 'public'),
    logLevel: 'silent',
    ...overrides,
  };
  try {
    const server = await startServer(config, options);
    return {
      ...server,
      dir,
      async stop() {
        await server.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

export interface SpawnedServer {
  /** The server's process id (e.g. to read its memory from /proc). */
  pid: number;
  port: number;
  url: string;
  syncUrl: string;
  /** Every stdout line so far (JSON log lines). */
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL if it has not exited within a few seconds. */
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;

/** Runs `node --import tsx server/main.ts` (or another `node` command line, e.g. an installed bin); resolves once its start line names the port. */
export function spawnServer(env: Record<string, string>, nodeArgs: readonly string[] = ['--import', 'tsx', 'server/main.ts']): Promise<SpawnedServer> {
  const child = spawn(process.execPath, nodeArgs, {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += String(chunk)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  const kill = (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void kill('SIGKILL');
      reject(new Error(`server did not start within ${START_TIMEOUT_MS} ms: ${stderr}`));
    }, START_TIMEOUT_MS);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before listening: ${stderr}`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      const entry = parseJson(line);
      if (entry?.['msg'] !== 'listening' || typeof entry['port'] !== 'number') return;
      clearTimeout(timer);
      const port = entry['port'];
      resolve({
        pid: child.pid!,
        port,
        url: `http://127.0.0.1:${port}`,
        syncUrl: `ws://127.0.0.1:${port}/sync`,
        lines,
        exited,
        kill,
        async stop() {
          const force = setTimeout(() => void kill('SIGKILL'), STOP_TIMEOUT_MS);
          await kill('SIGTERM');
          clearTimeout(force);
        },
      });
    });
  });
}

function parseJson(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** The servers a test file started, stopped together after each test. */
export class TestServers {
  private readonly started: TestServer[] = [];

  async start(overrides: Partial<ServerConfig> = {}): Promise<TestServer> {
    const server = await startTestServer(overrides);
    this.started.push(server);
    return server;
  }

  async stopAll(): Promise<void> {
    for (const server of this.started.splice(0)) await server.stop();
  }
}
