/** The remote, initial-sync and parallel-writes floors, in a bare dedicated worker: a WebSocket and raw IndexedDB. */
import { openBareDatabase, putAll } from './idb-bare';
import { now } from './timing';

type Request =
  | { kind: 'remote'; echoUrl: string; n: number }
  | { kind: 'initialSync'; echoUrl: string; records: number }
  | { kind: 'write'; i: number; record: { id: string } };

const scope = self as unknown as { onmessage: ((e: MessageEvent<Request>) => void) | null; postMessage(data: unknown): void };

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.onopen = () => resolve(socket);
    socket.onerror = () => reject(new Error(`cannot open ${url}`));
  });
}
const nextFrame = (socket: WebSocket) =>
  new Promise<string>((resolve) => { socket.onmessage = (e) => resolve(e.data as string); });

/** Write → echo round trip → write: what a change costs between two devices, minus our code. */
async function remote(echoUrl: string, n: number): Promise<number[]> {
  const db = await openBareDatabase('bench-floor-remote');
  const socket = await open(echoUrl);
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = now();
    await putAll(db, [{ id: `a-${i}` }]);
    const echoed = nextFrame(socket);
    socket.send(JSON.stringify({ echo: { id: `b-${i}`, title: 'x', done: false } }));
    const record = JSON.parse(await echoed) as { id: string };
    await putAll(db, [record]);
    samples.push(now() - t0);
  }
  socket.close();
  return samples;
}

/** All records as one JSON frame, stored in one transaction. */
async function initialSync(echoUrl: string, records: number): Promise<number> {
  const db = await openBareDatabase('bench-floor-initial');
  const socket = await open(echoUrl);
  const t0 = now();
  const frame = nextFrame(socket);
  socket.send(JSON.stringify({ records }));
  const parsed = JSON.parse(await frame) as { id: string }[];
  await putAll(db, parsed);
  const ms = now() - t0;
  socket.close();
  return ms;
}

/**
 * One write per message, as the tab's upserts arrive: those that arrive while a transaction
 * commits go together in the next, each stored as a record and an outbox entry, each answered
 * once committed. The product's group commit, minus validation, the merge's read and the fan-out.
 */
const writesDatabase = () =>
  new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open('bench-floor-writes', 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore('records', { keyPath: 'id' });
      request.result.createObjectStore('outbox', { autoIncrement: true });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
let writes: Promise<IDBDatabase> | undefined;
let waiting: { i: number; record: { id: string } }[] = [];
let committing = false;

async function commitWaiting(): Promise<void> {
  committing = true;
  const db = await (writes ??= writesDatabase());
  while (waiting.length > 0) {
    const batch = waiting;
    waiting = [];
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction(['records', 'outbox'], 'readwrite');
      for (const { record } of batch) {
        tx.objectStore('records').put(record);
        tx.objectStore('outbox').add({ record });
      }
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
    for (const { i } of batch) scope.postMessage({ written: i });
  }
  committing = false;
}

scope.onmessage = async (e) => {
  const request = e.data;
  if (request.kind === 'write') {
    waiting.push(request);
    if (!committing) void commitWaiting();
  } else if (request.kind === 'remote') scope.postMessage(await remote(request.echoUrl, request.n));
  else scope.postMessage(await initialSync(request.echoUrl, request.records));
};
