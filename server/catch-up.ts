/**
 * Answers `request_events` and `request_all_events` from the store's compacted view: one page
 * when the client names a limit, else every page. Pages come from the store as JSON text within
 * a byte budget (one frame each, never parsed here); the next page is read only once the socket
 * has taken the last one, and after a turn of the event loop, so that a long catch-up on SQLite
 * (whose reads are synchronous) never keeps the process from serving anyone else.
 */
import { DEFAULT_PAGE_EVENTS, type ClientMessage, type MessageOf, type ServerMessage } from '../protocol';
import { eventsFrameText, pageBudget } from './events-frames';
import { nextTurn, type CompactedQuery, type EventStore, type StoredPage } from './store/event-store';

export interface PacedSender {
  /** Sends a serialized message; resolves when the socket can take more. False once the stream must stop. */
  sendPaced(frame: string): Promise<boolean>;
}

type RequestEvents = MessageOf<ClientMessage, 'request_events'>;
type RequestAllEvents = MessageOf<ClientMessage, 'request_all_events'>;

/** What a catch-up reads from and writes to. */
export interface CatchUp {
  store: EventStore;
  namespace: string;
  out: PacedSender;
  /** Most bytes of one `events` frame. */
  maxPageBytes: number;
}

export async function answerRequestEvents(catchUp: CatchUp, request: RequestEvents): Promise<void> {
  const { repository, since, limit } = request;
  const afterSequence = request.afterSequence ?? 0;
  if (limit === undefined) {
    await streamRepository(catchUp, repository, afterSequence, since);
    return;
  }
  // One reply per request: a page too large for one frame is cut short, and the client asks on.
  const page = await readPage(catchUp, repository, { afterSequence, since, limit });
  if (!(await catchUp.out.sendPaced(eventsFrameText(repository, page.events, page.hasMore)))) return;
  if (!page.hasMore) await catchUp.out.sendPaced(serialize({ type: 'sync_complete', repository }));
}

export async function answerRequestAllEvents(catchUp: CatchUp, request: RequestAllEvents): Promise<void> {
  const { store, namespace } = catchUp;
  const repositories = request.repository ? [request.repository] : (await store.repositories(namespace)).map((r) => r.name);
  for (const repository of repositories) {
    if (!(await streamRepository(catchUp, repository, 0))) return;
  }
  await catchUp.out.sendPaced(serialize({ type: 'sync_complete' }));
}

/** Every page of a repository's compacted view after `afterSequence`, then `sync_complete`. */
async function streamRepository(catchUp: CatchUp, repository: string, afterSequence: number, since?: string): Promise<boolean> {
  let after = afterSequence;
  for (;;) {
    const page = await readPage(catchUp, repository, { afterSequence: after, since, limit: DEFAULT_PAGE_EVENTS });
    if (!(await catchUp.out.sendPaced(eventsFrameText(repository, page.events, page.hasMore)))) return false;
    const last = page.events.at(-1);
    if (!page.hasMore || !last) return catchUp.out.sendPaced(serialize({ type: 'sync_complete', repository }));
    after = last.serverSequence;
    await nextTurn();
  }
}

function readPage({ store, namespace, maxPageBytes }: CatchUp, repository: string, query: CompactedQuery): Promise<StoredPage> {
  return store.readCompactedText(namespace, repository, { ...query, maxBytes: pageBudget(repository, maxPageBytes) });
}

const serialize = (message: ServerMessage): string => JSON.stringify(message);
