/**
 * The demo: a todo list synced through tabsync. Open it in several tabs or browsers; every tab
 * shares one worker and one connection. `window.lf` and `window.todos` are there for the console.
 */
import { connect, type Repository, type SyncClient, type SyncErrorInfo, type SyncStatus } from '../src';
import { mountDiagnosticsPanel } from './diagnostics-panel';
import { byId, element } from './dom';
import { pageKnobs } from './test-knobs';

interface Todo {
  id: string;
  title: string;
  done: boolean;
}
type DemoSchemas = { todos: Todo };

declare global {
  interface Window {
    lf: SyncClient<DemoSchemas>;
    todos: Repository<Todo>;
    /** Asked for a new token when the server refuses the current one (a knob of the test build). */
    refreshToken?: () => Promise<string | null>;
  }
}

// The demo at `/` takes nothing from its URL; the test build (test-knobs.ts) takes its knobs.
const lf = connect<DemoSchemas>(
  TEST_KNOBS
    ? {
        worker: '/test/sync-worker.js',
        ...pageKnobs(new URLSearchParams(location.search)),
        onAuthenticationFailed: async () => {
          const authToken = await window.refreshToken?.();
          return authToken ? { authToken } : null;
        },
      }
    : { worker: '/sync-worker.js' },
);
const todos = lf.repository('todos');
window.lf = lf;
window.todos = todos;

const list = byId<HTMLUListElement>('todo-list');
const empty = byId('empty');
const remaining = byId('remaining');
const badge = byId('connection');
const pending = byId('pending');
const progress = byId('sync-progress');
const progressText = byId('sync-progress-text');
const lastError = byId('last-error');
const offlineNotice = byId('offline-notice');
const retry = byId<HTMLButtonElement>('retry');
const storageNotice = byId('storage-notice');
const newTodo = byId<HTMLFormElement>('new-todo');
const newTitle = byId<HTMLInputElement>('new-title');
const filterButtons = [...document.querySelectorAll<HTMLButtonElement>('.filter')];
const filterCount = byId('filter-count');
const windowNotice = byId('window');
const windowText = byId('window-text');
const showMore = byId<HTMLButtonElement>('show-more');

// ── status ────────────────────────────────────────────────────────────────────────────────

/** How long a lost connection reads as "Connecting…" (the worker is retrying) before "Offline". */
const RECONNECT_GRACE_MS = 4000;

let status: SyncStatus | undefined;
let downSince = Date.now();
let graceTimer: ReturnType<typeof setTimeout> | undefined;
/** The last failed action of this tab, shown until the next one succeeds. */
let actionError: string | undefined;
/** The todos in the list; undefined until the first list arrived. */
let shownTodos: number | undefined;
/** How many todos there are, how many are not done (watchCount); undefined until known. */
let counts: { all?: number; active?: number; done?: number } = {};
type Filter = 'all' | 'active' | 'done';
/** The filter button pressed. */
let filter: Filter = 'all';
/** What a lost connection reports: the calm offline notice says it, not a red error. */
const CONNECTION_LOSS = new Set(['connection_failed', 'heartbeat_timeout']);

type ConnectionState = 'connected' | 'connecting' | 'offline' | 'unauthorized';
const connectionLabels: Record<ConnectionState, string> = {
  connected: 'Connected',
  connecting: 'Connecting…',
  offline: 'Offline',
  unauthorized: 'Unauthorized',
};

function connectionState(): ConnectionState {
  if (status?.unauthorized) return 'unauthorized';
  if (status?.connected && status.authenticated) return 'connected';
  if ((status && !status.started) || !navigator.onLine) return 'offline';
  return Date.now() - downSince < RECONNECT_GRACE_MS ? 'connecting' : 'offline';
}

function renderStatus(): void {
  const state = connectionState();
  badge.dataset['state'] = state;
  badge.textContent = connectionLabels[state];
  clearTimeout(graceTimer);
  if (state === 'connecting') graceTimer = setTimeout(renderStatus, downSince + RECONNECT_GRACE_MS - Date.now());

  const waiting = status?.pending ?? 0;
  pending.toggleAttribute('data-waiting', waiting > 0);
  pending.textContent =
    waiting > 0
      ? `${waiting} ${waiting === 1 ? 'change' : 'changes'} waiting to sync${
          status?.stalled ? ` (the server has not confirmed for ${Math.round((status.stalledForMs ?? 0) / 1000)} s)` : ''
        }`
      : state === 'connected' && !firstLoad()
        ? 'All changes synced'
        : '';

  progress.hidden = !status?.syncing;
  if (status?.syncing) {
    const received = status.progress?.received ?? 0;
    progressText.textContent = `${status.lastSyncAt ? 'Catching up' : 'Loading your todos'}…${received > 0 ? ` ${received} received` : ''}`;
  }

  // A sync error stops showing once a later catch-up completed: it no longer describes the present.
  const syncError = status?.lastError;
  const current = syncError && !(status?.lastSyncAt && status.lastSyncAt > syncError.at) ? syncError : undefined;
  const down = state === 'offline' || state === 'connecting';
  const shown = current && !(down && CONNECTION_LOSS.has(current.code)) ? current : undefined;
  const error = actionError ?? (shown && `${describeSyncError(shown)} (${new Date(shown.at).toLocaleTimeString()})`);
  lastError.hidden = !error;
  lastError.textContent = error ?? '';
  offlineNotice.hidden = state !== 'offline' || status?.started === false;

  renderEmpty();
  storageNotice.hidden = status?.storage !== 'memory';
  storageNotice.textContent = storageNotice.hidden ? '' : 'Memory only: nothing is kept. This browser gave no working storage, so your todos sync but are not saved on this device.';
}

/** Before the first list, and during this device's first catch-up (the progress bar says so). */
function firstLoad(): boolean {
  return shownTodos === undefined || (status?.syncing === true && !status.lastSyncAt);
}

/** "Loading…" alone on a first load; "Nothing to do yet" only once it is known to be true. */
function renderEmpty(): void {
  const loading = firstLoad();
  empty.hidden = (shownTodos ?? 0) > 0 || (loading && !progress.hidden);
  empty.textContent = loading
    ? 'Loading…'
    : filter !== 'all' && (counts.all ?? 0) > 0
      ? filter === 'active'
        ? 'Nothing left to do.'
        : 'Nothing done yet.'
      : 'Nothing to do yet. Add a todo, then open this page in a second tab: it appears there at once.';
}

function describeSyncError(error: SyncErrorInfo): string {
  if (error.code === 'storage_lost') return 'The browser cleared the data saved on this device: reloading everything from the server';
  return `Sync error: ${error.message}`;
}

lf.onStatusChange((next) => {
  const wasUp = status?.connected && status.authenticated;
  if (wasUp && !(next.connected && next.authenticated)) downSince = Date.now();
  status = next;
  renderStatus();
});
addEventListener('online', renderStatus);
// Skips the rest of the reconnect backoff: a restart of the shared sync connects at once.
retry.addEventListener('click', () => void lf.stop().then(() => lf.start()));
addEventListener('offline', renderStatus);

/** Runs a write; a failure is shown to the user instead of vanishing in the console. */
function attempt(write: () => Promise<void>): void {
  write().then(
    () => {
      if (actionError === undefined) return;
      actionError = undefined;
      renderStatus();
    },
    (error: unknown) => {
      actionError = `Couldn't save: ${error instanceof Error ? error.message : String(error)}`;
      renderStatus();
    },
  );
}

// ── todos ─────────────────────────────────────────────────────────────────────────────────

interface Row {
  todo: Todo;
  item: HTMLLIElement;
  toggle: HTMLInputElement;
  title: HTMLSpanElement;
  rename: HTMLButtonElement;
  remove: HTMLButtonElement;
  editing: boolean;
}
const rows = new Map<string, Row>();

/** Ids sort by creation time, so the list (sorted by id) keeps the order todos were added in. */
function newId(): string {
  return Date.now().toString(36).padStart(9, '0') + Math.random().toString(36).slice(2, 8);
}

function createRow(todo: Todo): Row {
  const item = element('li', 'todo');
  const toggle = element('input', 'toggle');
  toggle.type = 'checkbox';
  const title = element('span', 'title');
  // Focusable so the keyboard can rename too: every engine's driver can press keys, while a
  // driver's double click does not fire `dblclick` everywhere (WebDriver BiDi in Firefox).
  title.tabIndex = 0;
  title.title = 'Double-click, or Enter or F2, to rename';
  const rename = element('button', 'icon rename', '✎');
  const remove = element('button', 'icon delete', '✕');
  item.append(toggle, title, rename, remove);
  const row: Row = { todo, item, toggle, title, rename, remove, editing: false };

  toggle.addEventListener('change', () => attempt(() => todos.upsert({ ...row.todo, done: toggle.checked })));
  title.addEventListener('dblclick', () => startEditing(row));
  title.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' && event.key !== 'F2') return;
    event.preventDefault(); // the Enter must not reach the input that replaces the title
    startEditing(row);
  });
  rename.addEventListener('click', () => startEditing(row));
  remove.addEventListener('click', () => attempt(() => todos.delete(row.todo.id)));
  return row;
}

function updateRow(row: Row, todo: Todo): void {
  row.todo = todo;
  row.item.dataset['id'] = todo.id;
  row.item.classList.toggle('done', todo.done);
  row.toggle.checked = todo.done;
  row.toggle.setAttribute('aria-label', `Done: ${todo.title}`);
  row.rename.setAttribute('aria-label', `Rename ${todo.title}`);
  row.remove.setAttribute('aria-label', `Delete ${todo.title}`);
  if (!row.editing) row.title.textContent = todo.title;
}

/** Swaps the title for an input: Enter or leaving the field saves, Escape cancels. */
function startEditing(row: Row): void {
  if (row.editing) return;
  row.editing = true;
  const input = element('input', 'edit');
  input.value = row.todo.title;
  input.setAttribute('aria-label', `New title for ${row.todo.title}`);
  row.title.replaceWith(input);
  input.focus();
  input.select();

  const finish = (save: boolean) => {
    if (!row.editing) return;
    row.editing = false;
    const title = input.value.trim();
    input.replaceWith(row.title);
    row.title.textContent = row.todo.title;
    if (save && title && title !== row.todo.title) attempt(() => todos.upsert({ ...row.todo, title }));
  };
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') finish(true);
    else if (event.key === 'Escape') finish(false);
  });
  input.addEventListener('blur', () => finish(true));
}

function renderTodos(records: readonly Todo[]): void {
  const present = new Set<string>();
  records.forEach((todo, index) => {
    present.add(todo.id);
    let row = rows.get(todo.id);
    if (!row) {
      row = createRow(todo);
      rows.set(todo.id, row);
      updateRow(row, todo);
    } else if (row.todo.title !== todo.title || row.todo.done !== todo.done) updateRow(row, todo);
    // Rows that did not change are not written again: rewriting every row's title and labels at
    // each change made the browser lay the whole list out again (20 ms a change with 100 rows).
    else row.todo = todo;
    const atIndex = list.children[index];
    if (atIndex !== row.item) list.insertBefore(row.item, atIndex ?? null);
  });
  for (const [id, row] of rows) {
    if (present.has(id)) continue;
    row.item.remove();
    rows.delete(id);
  }
  shownTodos = records.length;
  renderStatus();
  renderCounts();
}

// ── filters, counts and the window ────────────────────────────────────────────────────────

const filterWhere: Record<Filter, { done?: boolean }> = { all: {}, active: { done: false }, done: { done: true } };
/** The list shows this many todos at first (in the order they were added); Show more adds as many. */
const WINDOW_SIZE = 100;
/** Each filter's watched window runs this far ahead of the rows shown. The worker loads every
 *  record a new query matches before its first answer (100,000 records: seconds), so Show more
 *  shows rows this tab already holds instead of asking a new query, and a filter's window, once
 *  watched, stays watched: switching back to it renders at once. */
const WATCHED_AHEAD = 1000;

/** One filter's live window: its limit, the records it last gave, its unsubscribe. */
interface FilterWindow {
  limit: number;
  records: readonly Todo[] | undefined;
  stop: () => void;
}
const windows = new Map<Filter, FilterWindow>();
/** How many rows of the current filter's window are shown. */
let limit = WINDOW_SIZE;

function renderWindow(): void {
  const records = windows.get(filter)?.records;
  if (records) renderTodos(records.slice(0, limit));
}

/** Watches `kind`'s window up to `watched` records, unless it already is. The old watch stays until
 *  the new one answers: switching filters does not flash "Loading…". */
function watchFilter(kind: Filter, watched: number, then?: () => void): void {
  const previous = windows.get(kind);
  if (previous && previous.limit >= watched) return then?.();
  const entry: FilterWindow = { limit: watched, records: previous?.records, stop: () => {} };
  windows.set(kind, entry);
  let first = true;
  entry.stop = todos.query({ where: filterWhere[kind], orderBy: { id: 'asc' }, limit: watched }).watch((records) => {
    entry.records = records;
    if (kind === filter) renderWindow();
    if (!first) return;
    first = false;
    previous?.stop();
    then?.();
  });
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

function renderCounts(): void {
  const { all, active, done } = counts;
  remaining.textContent = !all || active === undefined ? '' : `${plural(active, 'item', 'items')} left`;
  filterCount.textContent = !all || active === undefined || done === undefined ? '' : `${active} active · ${done} done`;
  const matching = counts[filter];
  const shown = shownTodos ?? 0;
  const more = matching !== undefined && matching > shown && shown >= limit;
  windowNotice.hidden = !more;
  windowText.textContent = more ? `Showing the first ${shown} of ${matching}.` : '';
}

/** Two counts, done is their difference: each count the worker keeps loads its records too. */
function watchCounts(then: () => void): void {
  const known = new Set<string>();
  for (const kind of ['all', 'active'] as const) {
    todos.query({ where: filterWhere[kind] }).watchCount((count) => {
      counts = { ...counts, [kind]: count };
      if (counts.all !== undefined && counts.active !== undefined) counts.done = counts.all - counts.active;
      renderCounts();
      renderEmpty();
      if (known.size < 2 && known.add(kind).size === 2) then();
    });
  }
}

for (const button of filterButtons) {
  button.addEventListener('click', () => {
    const chosen = button.dataset['filter'] as Filter;
    if (chosen === filter) return;
    filter = chosen;
    limit = WINDOW_SIZE;
    for (const each of filterButtons) each.setAttribute('aria-pressed', String(each === button));
    watchFilter(chosen, WATCHED_AHEAD);
    renderWindow();
    renderCounts();
    renderEmpty();
  });
}
showMore.addEventListener('click', () => {
  limit += WINDOW_SIZE;
  watchFilter(filter, Math.ceil(limit / WATCHED_AHEAD) * WATCHED_AHEAD);
  renderWindow();
});

// The list first, alone: then the counts, then the other filters' windows, each load in turn
// (the worker answers the loads it is given together, so the first render would wait for all).
watchFilter('all', WATCHED_AHEAD, () => watchCounts(() => watchFilter('active', WATCHED_AHEAD, () => watchFilter('done', WATCHED_AHEAD))));

newTodo.addEventListener('submit', (event) => {
  event.preventDefault();
  const title = newTitle.value.trim();
  if (!title) return;
  newTitle.value = '';
  attempt(() => todos.upsert({ id: newId(), title, done: false }));
});

renderStatus();

// ── diagnostics ───────────────────────────────────────────────────────────────────────────

// The worker's warnings are kept from the start, so the panel shows them once opened.
lf.onLog(mountDiagnosticsPanel(lf));
