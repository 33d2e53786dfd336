/**
 * The HTTP side of the port: health, read-only REST views of the caller's namespace (the same
 * compacted events `request_events` gives), and the demo's static files.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as v from 'valibot';
import { ClientMessageSchema, DEFAULT_PAGE_EVENTS, describeIssues } from '../protocol';
import { requestCredentials, type Authenticator } from './auth';
import { eventsArrayText } from './events-frames';
import type { Logger } from './log';
import { serveStatic } from './static-files';
import type { EventStore } from './store/event-store';

export interface HttpContext {
  store: EventStore;
  authenticator: Authenticator;
  log: Logger;
  publicDir: string;
  /** Most bytes of one `/api/events` body (a page of large records is cut short; `hasMore` says so). */
  maxPageBytes: number;
  serveSourceMaps: boolean;
  startedAt: number;
  activeConnections(): number;
  /** Bytes sent to WebSocket peers and not yet taken by them, all connections together. */
  sendBufferBytes(): number;
}

export function createRequestHandler(context: HttpContext): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    route(context, request, response).catch((error: unknown) => {
      context.log.error('http request failed', { method: request.method, path: request.url, error });
      if (!response.headersSent) sendJson(response, 500, { error: 'internal', message: 'internal server error' });
      else response.destroy();
    });
  };
}

async function route(context: HttpContext, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const path = url.pathname;
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('Allow', 'GET, HEAD');
    return sendJson(response, 405, { error: 'method_not_allowed', message: `${request.method} is not supported` });
  }

  if (path === '/api/health') {
    return sendJson(response, 200, {
      status: 'ok',
      database: context.store.kind,
      activeConnections: context.activeConnections(),
      sendBufferBytes: context.sendBufferBytes(),
      memory: memoryFigures(),
      uptimeSeconds: Math.floor((Date.now() - context.startedAt) / 1000),
    });
  }
  if (path === '/api/repositories') {
    const namespace = await authorize(context, request, response);
    if (namespace !== undefined) sendJson(response, 200, await context.store.repositories(namespace));
    return;
  }
  const eventsMatch = /^\/api\/events\/([^/]+)$/.exec(path);
  if (eventsMatch) {
    const namespace = await authorize(context, request, response);
    if (namespace !== undefined) await sendEvents(context, namespace, eventsMatch[1]!, url.searchParams, response);
    return;
  }
  if (!path.startsWith('/api/') && (await serveStatic(context.publicDir, path, request, response, { sourceMaps: context.serveSourceMaps }))) return;
  sendJson(response, 404, { error: 'not_found', message: `no such path: ${path}` });
}

/** The caller's namespace, or undefined after answering 401. */
async function authorize(context: HttpContext, request: IncomingMessage, response: ServerResponse): Promise<string | undefined> {
  const result = await context.authenticator.authenticate(requestCredentials(request));
  if (result.ok) return result.identity.namespace;
  response.setHeader('WWW-Authenticate', 'Bearer');
  sendJson(response, 401, { error: 'unauthorized', message: `authentication failed: ${result.reason}` });
  return undefined;
}

async function sendEvents(context: HttpContext, namespace: string, repository: string, query: URLSearchParams, response: ServerResponse): Promise<void> {
  const number = (name: string) => {
    const raw = query.get(name);
    return raw === null || raw === '' ? undefined : Number(raw);
  };
  // Validated as the equivalent request_events message, so REST and WebSocket accept the same.
  const parsed = v.safeParse(ClientMessageSchema, {
    type: 'request_events',
    repository,
    afterSequence: number('afterSequence'),
    since: query.get('since') ?? undefined,
    limit: number('limit'),
  });
  if (!parsed.success || parsed.output.type !== 'request_events') {
    return sendJson(response, 400, { error: 'invalid_request', message: parsed.success ? 'invalid request' : describeIssues(parsed.issues) });
  }
  const { afterSequence = 0, since, limit = DEFAULT_PAGE_EVENTS } = parsed.output;
  // The store's JSON text within a byte budget, as catch-up sends it: never a page of parsed objects.
  const maxBytes = context.maxPageBytes - REST_ENVELOPE_BYTES;
  const page = await context.store.readCompactedText(namespace, repository, { afterSequence, since, limit, maxBytes });
  // The same body as request_events: with hasMore, ask again after the last event's serverSequence.
  sendJsonText(response, 200, `{"events":${eventsArrayText(page.events)},"hasMore":${page.hasMore}}`);
}

/** The process's memory, for an operator watching it under load (bench:server reads the heap here). */
function memoryFigures(): { rssBytes: number; heapUsedBytes: number } {
  const { rss, heapUsed } = process.memoryUsage();
  return { rssBytes: rss, heapUsedBytes: heapUsed };
}

/** Room for `{"events":[…],"hasMore":false}` around the events. */
const REST_ENVELOPE_BYTES = 32;

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  sendJsonText(response, status, JSON.stringify(body));
}

function sendJsonText(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    // Answers depend on the caller's token and change with every write: no cache may keep them.
    'Cache-Control': 'no-store',
  });
  response.end(text);
}
