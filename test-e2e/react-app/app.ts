/**
 * The React test app (test-e2e/react.spec.ts), served at /react/ of the test build on the test
 * worker: a list (useQuery), one record (useRecord) and a status line (useSyncStatus), under
 * StrictMode in React's development build. The test mounts and unmounts it (`window.reactApp`)
 * and reads how many subscriptions the hooks hold (`live`): the tab's watchers share one worker
 * watch per repository, so a leaked callback would not show in the worker's diagnostics until
 * every other one is gone.
 */
import { createElement as h, StrictMode } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { connect } from '../../src';
import { useQuery, useRecord, useSyncStatus, type LiveSource, type StatusSource } from '../../react';
import type { Todo } from '../fixtures';

/** The record the app shows on its own line (react.spec.ts writes it). */
const PINNED_ID = 'pinned';

export interface LiveCounts {
  /** Record watches the hooks hold. */
  watches: number;
  /** Status listeners the hooks hold. */
  statusListeners: number;
  /** Watches the list ever asked for: two per mount in StrictMode (mount, unmount, mount). */
  listSubscriptions: number;
  /** Times the record line rendered (StrictMode renders twice each time). */
  recordRenders: number;
  /** Watches the query window holds (`window` part). */
  windowWatches: number;
  /** Watches the query window ever asked for. */
  windowSubscriptions: number;
}

/** What `mount` renders; all three by default. */
export type Part = 'status' | 'list' | 'record' | 'window';

declare global {
  interface Window {
    reactApp: { mount(parts?: Part[]): void; unmount(): void; live: LiveCounts };
  }
}

const lf = connect<{ todos: Todo }>({ worker: '/test/sync-worker.js' });
const todos = lf.repository('todos');
window.lf = lf;
window.todos = todos;

const live: LiveCounts = { watches: 0, statusListeners: 0, listSubscriptions: 0, recordRenders: 0, windowWatches: 0, windowSubscriptions: 0 };

/** `off`, counted down once however often it is called. */
function countedOff(key: 'watches' | 'statusListeners' | 'windowWatches', off: () => void): () => void {
  live[key]++;
  let on = true;
  return () => {
    if (on) live[key]--;
    on = false;
    off();
  };
}

/** The repository's watch, counted; made anew at each render by the record line on purpose. */
const counted = (source: LiveSource<Todo>): LiveSource<Todo> => ({
  watch: (callback) => countedOff('watches', source.watch(callback)),
});
const countedWatches = counted(todos);
const countedTodos: LiveSource<Todo> = {
  watch: (callback) => (live.listSubscriptions++, countedWatches.watch(callback)),
};
const countedClient: StatusSource = {
  onStatusChange: (callback) => countedOff('statusListeners', lf.onStatusChange(callback)),
  status: () => lf.status(),
};

function StatusLine() {
  const status = useSyncStatus(countedClient);
  const text = status ? `${status.connected ? 'connected' : 'offline'}, pending ${status.pending}` : 'loading';
  return h('p', { 'data-testid': 'status' }, text);
}

function TodoList() {
  const records = useQuery(countedTodos);
  if (!records) return h('p', { 'data-testid': 'list' }, 'loading');
  return h('ul', { 'data-testid': 'list' }, records.map((todo) => h('li', { key: todo.id }, todo.title)));
}

function PinnedRecord() {
  live.recordRenders++;
  // A source made during render: the hook must not resubscribe its way into a loop.
  const record = useRecord(counted(lf.repository('todos')), PINNED_ID);
  return h('p', { 'data-testid': 'record' }, record ? record.title : 'none');
}

/** The open todos by title, three at a time: a real query, its object made anew at each render. */
const WINDOW_QUERY = { where: { done: false }, orderBy: { title: 'asc' }, limit: 3 } as const;

function QueryWindow() {
  const query = todos.query(WINDOW_QUERY);
  const records = useQuery<Todo>({ watch: (callback) => (live.windowSubscriptions++, countedOff('windowWatches', query.watch(callback))) });
  if (!records) return h('p', { 'data-testid': 'window' }, 'loading');
  return h('ol', { 'data-testid': 'window' }, records.map((todo) => h('li', { key: todo.id }, todo.title)));
}

const PARTS = { status: StatusLine, list: TodoList, record: PinnedRecord, window: QueryWindow };

let root: Root | undefined;
window.reactApp = {
  live,
  mount(parts = ['status', 'list', 'record']) {
    root ??= createRoot(document.getElementById('root')!);
    root.render(h(StrictMode, null, ...parts.map((part) => h(PARTS[part], { key: part }))));
  },
  unmount() {
    root?.unmount();
    root = undefined;
  },
};
