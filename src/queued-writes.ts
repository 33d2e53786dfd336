/**
 * The upserts and deletes this tab makes in one task go to the worker as one `writes` message
 * (one structured clone, one answer; a call each costs a message each way, which is most of the
 * worker's time for writes issued together). Each still resolves once its own write committed,
 * or fails alone; a lost worker's batch runs again on the next, its eventIds kept.
 */
import type { QueuedWrite } from '../protocol/tab-api';
import type { WorkerCall } from './calls';
import { toError } from './errors';

type Queued = [write: QueuedWrite, resolve: () => void, reject: (error: Error) => void];

/** Queues a write for the next message; resolves once it committed. */
export type QueueWrite = (write: QueuedWrite) => Promise<void>;

export function queueWrites(call: WorkerCall): QueueWrite {
  let open: Queued[] | undefined;
  const alone = ([name, ...args]: QueuedWrite): Promise<void> => call((api, retried) => (api[name] as (...given: unknown[]) => Promise<void>)(...args, retried));
  const send = (sent: Queued[]) =>
    call((api, retried) => api.writes(sent.map(([queued]) => queued), retried)).then(
      (outcomes) => sent.forEach(([, done, fail], i) => (outcomes[i] ? fail(toError(outcomes[i])) : done())),
      // A TypeError: a runtime from before `writes` under the same worker URL (a deployment that
      // kept its worker's name, an old tab still open). Each write goes as its own call there.
      (error: Error) => sent.forEach(([write, done, fail]) => (error.name === 'TypeError' ? alone(write).then(done, fail) : fail(error))),
    );
  return (write) =>
    new Promise((resolve, reject) => {
      if (!open) {
        const sent: Queued[] = (open = []);
        // Sent after this task's synchronous code: every write it makes meanwhile goes along.
        queueMicrotask(() => {
          open = undefined;
          void send(sent);
        });
      }
      open.push([write, resolve, reject]);
    });
}
