/**
 * The server process's V8, reached through its inspector (started with `--inspect=127.0.0.1:<port>`):
 * a full garbage collection on demand, so memory is compared after GC rather than at whatever
 * point the collector happened to be.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import WebSocket from 'ws';

export interface Memory {
  /** Resident set size of the process. */
  rss: number;
  /** Bytes of live objects on V8's heap. */
  heapUsed: number;
}

export class RemoteProcess {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (result: Record<string, unknown>) => void; reject: (error: Error) => void }>();

  private constructor(
    private readonly socket: WebSocket,
    private readonly pid: number,
  ) {
    socket.on('message', (data) => {
      const reply = JSON.parse(String(data)) as { id?: number; result?: Record<string, unknown> };
      if (reply.id === undefined) return;
      this.pending.get(reply.id)?.resolve(reply.result ?? {});
      this.pending.delete(reply.id);
    });
    socket.on('close', () => {
      for (const { reject } of this.pending.values()) reject(new Error('the inspector connection closed'));
      this.pending.clear();
    });
  }

  static async attach(inspectorPort: number, pid: number): Promise<RemoteProcess> {
    const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
    const url = targets[0]?.webSocketDebuggerUrl;
    if (!url) throw new Error('the server process has no inspector target');
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    return new RemoteProcess(socket, pid);
  }

  /** A full GC, then the memory still in use. */
  async memoryAfterGc(): Promise<Memory> {
    await this.call('HeapProfiler.collectGarbage');
    const { usedSize } = (await this.call('Runtime.getHeapUsage')) as { usedSize: number };
    return { rss: rssOf(this.pid), heapUsed: usedSize };
  }

  rss(): number {
    return rssOf(this.pid);
  }

  close(): void {
    this.socket.close();
  }

  private call(method: string): Promise<Record<string, unknown>> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ id, method }));
    });
  }
}

/** A port free right now, for the inspector to listen on. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resident memory of a process, from /proc (Linux). */
function rssOf(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
