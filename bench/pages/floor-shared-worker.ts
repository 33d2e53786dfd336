/** The cross-tab floor: a bare SharedWorker that stores one record per message in one IndexedDB
 *  transaction, answers the sender and forwards the message to every other tab. */
import { openBareDatabase, putAll } from './idb-bare';

interface FloorMessage { i: number; t0: number }
const scope = self as unknown as { onconnect: ((e: MessageEvent) => void) | null };
const ports = new Set<MessagePort>();
const database = openBareDatabase('bench-floor-crosstab');

scope.onconnect = (e) => {
  const port = e.ports[0];
  if (!port) return;
  ports.add(port);
  port.onmessage = async (m: MessageEvent<FloorMessage>) => {
    await putAll(await database, [{ id: `floor-${m.data.i}` }]);
    port.postMessage({ ack: m.data.i });
    for (const other of ports) if (other !== port) other.postMessage(m.data);
  };
};
