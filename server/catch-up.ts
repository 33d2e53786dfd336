/**
 * Answers `request_events` and `request_all_events` from the store's compacted view: one page
 * when the client names a limit, else every page, each sent only once the socket has room.
 */
import { DEFAULT_PAGE_EVENTS, type MessageOf, type ClientMessage, type ServerMessage } from '../protocol';
import { eventsFrames } from './events-frames';
import type { EventStore } from './store/event-store';

export interface PacedSender {
  /** Sends a serialized message; resolves when the socket can take more. False once the socket is gone. */
  sendPaced(frame: string): Promise<boolean>;
}

type RequestEvents = MessageOf<ClientMessage, 'request_events'>;
type RequestAllEvents = MessageOf<ClientMessage, 'request_all_events'>;

export async function answerRequestEvents(
  store: EventStore,
  namespace: string,
  out: PacedSender,
  request: RequestEvents,
  maxPageBytes: number,
): Promise<void> {
  const { repository, since, limit } = request;
  const afterSequence = request.afterSequence ?? 0;
  if (limit === undefined) {
    await streamRepository(store, namespace, out, repository, maxPageBytes, afterSequence, since);
    return;
  }
  const page = await store.readCompacted(namespace, repository, { afterSequence, since, limit });
  // One reply per request: a page too large for one frame is cut short, and the client asks on.
  const [first] = eventsFrames(repository, page.events, maxPageBytes, page.hasMore);
  if (!first || !(await out.sendPaced(first.frame))) return;
  if (!page.hasMore && first.count === page.events.length) await out.sendPaced(serialize({ type: 'sync_complete', repository }));
}

export async function answerRequestAllEvents(
  store: EventStore,
  namespace: string,
  out: PacedSender,
  request: RequestAllEvents,
  maxPageBytes: number,
): Promise<void> {
  const repositories = request.repository ? [request.repository] : (await store.repositories(namespace)).map((r) => r.name);
  for (const repository of repositories) {
    if (!(await streamRepository(store, namespace, out, repository, maxPageBytes, 0))) return;
  }
  await out.sendPaced(serialize({ type: 'sync_complete' }));
}

/** Every page of a repository's compacted view after `afterSequence`, then `sync_complete`. */
async function streamRepository(
  store: EventStore,
  namespace: string,
  out: PacedSender,
  repository: string,
  maxPageBytes: number,
  afterSequence: number,
  since?: string,
): Promise<boolean> {
  let after = afterSequence;
  for (;;) {
    const page = await store.readCompacted(namespace, repository, { afterSequence: after, since, limit: DEFAULT_PAGE_EVENTS });
    for (const { frame } of eventsFrames(repository, page.events, maxPageBytes, page.hasMore)) {
      if (!(await out.sendPaced(frame))) return false;
    }
    const last = page.events.at(-1);
    if (!page.hasMore || !last) return out.sendPaced(serialize({ type: 'sync_complete', repository }));
    after = last.serverSequence;
  }
}

const serialize = (message: ServerMessage): string => JSON.stringify(message);
