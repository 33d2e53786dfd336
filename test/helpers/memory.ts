/**
 * The pieces of the memory attacks, shared by test/server-memory*.test.ts (light, in npm test)
 * and scripts/attack.ts (heavy, with figures): records that weigh far more parsed than stored,
 * readers that stop reading, sockets that flood, and a health probe that times every answer.
 */
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import type { SyncEvent } from '../../protocol';
import type { EventStore } from '../../server/store/event-store';

let counter = 0;

/** A record of about `bytes` bytes of JSON made of small objects: parsed, it weighs many times that. */
export function smallObjectData(bytes: number): Record<string, unknown> {
  const items: { k: number; v: string }[] = [];
  // Each item is about 16 bytes of JSON: {"k":123,"v":"x"},
  for (let size = 0; size < bytes; size += 16) items.push({ k: items.length, v: 'x' });
  return { items };
}

/** Appends `count` events of `repository`, `perBatch` at a time, each with `dataOf(i)`. */
export async function seed(
  store: EventStore,
  namespace: string,
  repository: string,
  count: number,
  dataOf: (i: number) => Record<string, unknown>,
  perBatch = 500,
): Promise<void> {
  for (let start = 0; start < count; start += perBatch) {
    const events: SyncEvent[] = [];
    for (let i = start; i < Math.min(count, start + perBatch); i++) {
      const createdAt = new Date(Date.UTC(2024, 0, 1) + i).toISOString();
      events.push({ eventId: `m${++counter}-${i}`, dataId: `r${i}`, operation: 0, createdAt, data: dataOf(i) });
    }
    await store.append(namespace, repository, events);
  }
}

export interface Health {
  status: string;
  activeConnections: number;
  sendBufferBytes: number;
}

export async function health(url: string): Promise<Health> {
  return (await (await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(10_000) })).json()) as Health;
}

/** Asks /api/health one request after another until `stop()` is true; the latency of each, in ms. */
export async function probeHealth(url: string, stop: () => boolean, onAnswer?: (answer: Health) => void): Promise<number[]> {
  const latencies: number[] = [];
  while (!stop()) {
    const started = performance.now();
    const answer = await health(url);
    latencies.push(performance.now() - started);
    onAnswer?.(answer);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return latencies;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Opens a socket that reads nothing from the server (its side of TCP fills up and stays full). */
export function openDeaf(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url);
  return new Promise((resolve, reject) => {
    socket.once('open', () => {
      socket.pause();
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/**
 * Sends empty text frames as fast as the socket takes them (never more than 256 KiB queued on
 * our side) until `stop()`; resolves with the number sent, and counts them in `total` as it goes.
 */
export function floodEmptyFrames(socket: WebSocket, stop: () => boolean, total = { frames: 0 }): Promise<number> {
  let sent = 0;
  return new Promise((resolve) => {
    const burst = () => {
      if (stop() || socket.readyState !== WebSocket.OPEN) return resolve(sent);
      for (let i = 0; i < 2000 && socket.bufferedAmount < 256 * 1024; i++, sent++, total.frames++) socket.send('');
      setImmediate(burst);
    };
    burst();
  });
}

/** Resident memory of a process, from /proc (Linux). */
export function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

export const MiB = 1024 * 1024;
export const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
