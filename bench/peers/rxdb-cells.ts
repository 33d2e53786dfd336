/** The RxDB columns of the bench's table: the peer's figure, and ours against it. */
import type { SyncTime, Throughput } from './rxdb-peer';

type Cells = [rxdb: string, versus: string];
const NONE: Cells = ['', ''];

/** "2.1× faster" when ours takes less time than the peer's, "1.3× slower" otherwise. */
function versus(oursCost: number, peerCost: number): string {
  if (!(oursCost > 0 && peerCost > 0)) return '–';
  return peerCost >= oursCost ? `${(peerCost / oursCost).toFixed(1)}× faster` : `${(oursCost / peerCost).toFixed(1)}× slower`;
}

export const latencyCells = (oursMs: number, peerMs: number | undefined): Cells =>
  peerMs === undefined ? NONE : [`${peerMs} ms`, versus(oursMs, peerMs)];

/** Throughputs compare as the time per write: the inverse. A phase the peer did not finish
 *  within its cap says how far it got. */
export function throughputCells(oursPerSec: number, peer: Throughput | undefined, phase: 'sequential' | 'parallel'): Cells {
  if (!peer) return NONE;
  const perSec = phase === 'sequential' ? peer.sequentialPerSec : peer.concurrentPerSec;
  const done = peer.completed[phase];
  const cut = done < peer.completed.of ? ` (${done} of ${peer.completed.of} in ${peer.capS} s)` : '';
  return [`${perSec}/s${cut}`, versus(1 / oursPerSec, 1 / perSec)];
}

/** A sync the peer did not finish within its cap is at least cap/ours slower than ours. */
export function syncCells(oursMs: number, peer: SyncTime | undefined): Cells {
  if (!peer) return NONE;
  if (peer.cappedAtS !== undefined) return [`did not finish in ${peer.cappedAtS} s`, oursMs > 0 ? `> ${(peer.cappedAtS * 1000 / oursMs).toFixed(1)}× faster` : '–'];
  return [`${peer.ms} ms`, versus(oursMs, peer.ms)];
}

export const stallCells = (oursMs: number, peer: SyncTime | undefined): Cells =>
  peer?.cappedAtS !== undefined ? NONE : latencyCells(oursMs, peer?.longestStallMs);
