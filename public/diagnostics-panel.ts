/**
 * The demo's diagnostics panel: what the worker tells about itself (`lf.diagnostics()`), for a
 * person debugging a sync problem. Refreshed when opened and every second while open, never while
 * closed; every value goes in as text. Each value carries `data-field` (e.g. `worker.id`) for tests.
 */
import type { Diagnostics, LogEntry } from '../protocol/tab-api';
import { byId, element } from './dom';

const REFRESH_MS = 1000;
const LOG_LINES = 5;

type Row = [field: string, label: string, value: string];

export interface DiagnosticsSource {
  diagnostics(): Promise<Diagnostics>;
}

/** Wires the `<details id="diagnostics">` panel; returns where the worker's warnings go to be shown. */
export function mountDiagnosticsPanel(source: DiagnosticsSource): (entry: LogEntry) => void {
  const panel = byId<HTMLDetailsElement>('diagnostics');
  const body = byId('diagnostics-body');
  const failure = byId('diagnostics-error');
  const log = byId('diagnostics-log');
  const logList = byId<HTMLUListElement>('diagnostics-log-list');
  const entries: LogEntry[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;

  // The next refresh is scheduled once this one settled: a slow worker never piles up calls.
  const refresh = async () => {
    try {
      const diagnostics = await source.diagnostics();
      if (!panel.open) return;
      body.replaceChildren(...sections(diagnostics).map(([title, rows]) => section(title, rows)));
      failure.hidden = true;
    } catch (error) {
      failure.textContent = `The worker did not answer: ${error instanceof Error ? error.message : String(error)}`;
      failure.hidden = false;
    }
    if (panel.open) timer = setTimeout(refresh, REFRESH_MS);
  };
  panel.addEventListener('toggle', () => {
    clearTimeout(timer);
    if (panel.open) void refresh();
  });

  return (entry) => {
    entries.push(entry);
    entries.splice(0, entries.length - LOG_LINES);
    logList.replaceChildren(...entries.map((line) => element('li', `log-${line.level}`, `${time(line.at)} ${line.level}: ${line.message}`)));
    log.hidden = false;
  };
}

function sections(d: Diagnostics): [string, Row[]][] {
  const { connection, outbox, storage } = d;
  return [
    ['Worker', [
      ['worker.id', 'id', d.worker.id],
      ['worker.mode', 'mode', d.worker.mode],
      ['worker.version', 'version', `${d.worker.version} (schema ${d.worker.schemaVersion})`],
      ['worker.startedAt', 'started', time(d.worker.startedAt)],
    ]],
    ['Connection', [
      ['connection.state', 'state', connection.state],
      ['connection.since', 'since', time(connection.since)],
      ['connection.reconnects', 'reconnects', String(connection.reconnects)],
      ['connection.lastError', 'last error', connection.lastError ? `${connection.lastError.code}: ${connection.lastError.message} (${time(connection.lastError.at)})` : 'none'],
    ]],
    ['Outbox', [
      ['outbox.pending', 'waiting to sync', String(outbox.pending)],
      ['outbox.oldestAgeMs', 'oldest waiting', outbox.oldestAgeMs === null ? '—' : `${(outbox.oldestAgeMs / 1000).toFixed(1)} s`],
      ['outbox.setAside', 'refused by the server', outbox.setAside.length === 0 ? 'none' : outbox.setAside.map((write) => `${write.repository}/${write.id} (${write.code}, ${time(write.at)})`).join('; ')],
    ]],
    ['Storage', [
      ['storage.mode', 'mode', storage.mode === 'memory' ? 'memory only (nothing is kept)' : 'IndexedDB'],
      ['storage.namespace', 'namespace', storage.namespace ?? 'none named yet'],
      ['storage.persisted', 'persistent', storage.persisted === 'unknown' ? 'unknown' : storage.persisted ? 'yes' : 'no (the browser may evict it)'],
      ['storage.usage', 'used', storage.usageBytes === undefined ? 'unknown' : `${bytes(storage.usageBytes)} of ${storage.quotaBytes === undefined ? '?' : bytes(storage.quotaBytes)}`],
      ['storage.losses', 'taken away', `${storage.losses} ${storage.losses === 1 ? 'time' : 'times'}`],
    ]],
    ['Repositories', Object.entries(d.repositories).map(([name, repository]): Row => [
      `repositories.${name}`, name,
      `${repository.records} ${repository.records === 1 ? 'record' : 'records'}, cursor ${repository.cursor}, ${repository.lastSyncAt ? `last sync ${time(repository.lastSyncAt)}` : 'not synced yet'}`,
    ])],
    // The demo's tabs watch queries (below), not whole repositories.
    [`Tabs (${d.tabs.length})`, d.tabs.map((tab): Row => [`tabs.${tab.id}`, `${tab.id.slice(0, 8)}…`, tab.watching.length ? `watching ${tab.watching.join(', ')}` : 'watching queries only'])],
    [`Queries (${d.queries.length})`, d.queries.map((query, index): Row => [
      `queries.${index}`, `${query.repository} ${query.kind}`,
      `${query.query}: ${query.count === undefined ? 'loading' : `${query.count} matching`}, ${query.watchers} ${query.watchers === 1 ? 'watcher' : 'watchers'}, ${query.plan}`,
    ])],
  ];
}

function section(title: string, rows: Row[]): HTMLElement {
  const node = element('section');
  const list = element('dl');
  for (const [field, label, value] of rows) {
    const dd = element('dd', '', value);
    dd.dataset['field'] = field;
    list.append(element('dt', '', label), dd);
  }
  node.append(element('h2', '', title), list);
  return node;
}

const time = (iso: string) => new Date(iso).toLocaleTimeString();

function bytes(count: number): string {
  if (count < 1024) return `${count} B`;
  if (count < 1024 ** 2) return `${(count / 1024).toFixed(1)} KB`;
  if (count < 1024 ** 3) return `${(count / 1024 ** 2).toFixed(1)} MB`;
  return `${(count / 1024 ** 3).toFixed(1)} GB`;
}
