/**
 * Injected into the demo's tabs before their own scripts (bench/demo.ts, addInitScript): when the
 * demo first renders its list, what a click on a filter or "Show more" takes until the list shows
 * it, when a todo added in another tab is rendered here, and the long tasks meanwhile.
 */
import { nextMessage, now } from './timing';

interface DemoWindow {
  lf: { updateAuthToken(token: string): Promise<void>; diagnostics(): Promise<{ queries: { count: number | undefined }[] }> };
  todos: { delete(id: string): Promise<void>; query(): { watchCount(callback: (count: number) => void): () => void } };
}
type Step = 'active' | 'done' | 'all' | 'more';

const demo = () => window as unknown as DemoWindow;
const channel = new BroadcastChannel('bench-demo');
const longTasks: { start: number; end: number }[] = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) longTasks.push({ start: entry.startTime, end: entry.startTime + entry.duration });
}).observe({ type: 'longtask', buffered: true });

const rows = () => [...(document.getElementById('todo-list')?.children ?? [])] as HTMLElement[];
const isDone = (row: HTMLElement) => row.classList.contains('done');
const longestTask = (from: number, to: number) => Math.max(0, ...longTasks.filter((t) => t.end > from && t.start < to).map((t) => t.end - t.start));
/** Long tasks are reported after they end: a moment for the last one to come in. */
const settle = () => new Promise((r) => setTimeout(r, 250));

/** performance.now() at the first DOM change after which `done()` holds (or now, if it holds). */
function when(done: () => boolean): Promise<number> {
  return new Promise((resolve) => {
    if (done()) return resolve(performance.now());
    const observer = new MutationObserver(() => {
      if (!done()) return;
      observer.disconnect();
      resolve(performance.now());
    });
    observer.observe(document, { childList: true, subtree: true, attributes: true, characterData: true });
  });
}

// Started before the demo's script runs: times from the navigation's start.
const firstRender = when(() => rows().length > 0);
const countsShown = when(() => (document.getElementById('filter-count')?.textContent ?? '') !== '');

const stepShown: Record<Step, (before: number) => boolean> = {
  active: () => rows().length > 0 && !rows().some(isDone),
  done: () => rows().length > 0 && rows().every(isDone),
  all: () => rows().some(isDone) && !rows().every(isDone),
  more: (before) => rows().length > before,
};

const probe = {
  authenticate: (token: string) => demo().lf.updateAuthToken(token),

  /** The moment this tab's count of every todo first reaches `count`. */
  countReaches: (count: number) => new Promise<number>((resolve) => demo().todos.query().watchCount((n) => n >= count && resolve(now()))),

  /** ms from the navigation's start to the first rendered row and to the counts; the longest task until then. */
  async load() {
    const [firstRenderMs, countsMs] = [await firstRender, await countsShown];
    await settle();
    return { firstRenderMs, countsMs, longestTaskMs: longestTask(0, Math.max(firstRenderMs, countsMs)) };
  },

  /** Clicks a filter or Show more: ms until the list shows it, and the longest task meanwhile. */
  async step(step: Step) {
    const before = rows().length;
    const button = document.querySelector<HTMLButtonElement>(step === 'more' ? '#show-more' : `.filter[data-filter="${step}"]`);
    if (!button) throw new Error(`no button for ${step}`);
    const t0 = performance.now();
    button.click();
    const shown = await when(() => stepShown[step](before));
    await settle();
    return { ms: shown - t0, longestTaskMs: longestTask(t0, shown), rows: rows().length };
  },

  /** Until the worker has loaded every query the demo watches (`queries` of them). */
  async settled(queries: number): Promise<void> {
    for (;;) {
      const watched = (await demo().lf.diagnostics()).queries;
      if (watched.length >= queries && watched.every((q) => q.count !== undefined)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  },

  /** This tab tells the others when a row first appears in its list. */
  reportRows(): void {
    const list = document.getElementById('todo-list');
    if (!list) throw new Error('no list');
    new MutationObserver((mutations) => {
      const t = now();
      for (const { addedNodes } of mutations) {
        for (const node of addedNodes) {
          if (node instanceof HTMLElement) channel.postMessage({ title: node.querySelector('.title')?.textContent, id: node.dataset['id'], t });
        }
      }
    }).observe(list, { childList: true });
  },

  /** Adds a todo through the form; ms until another tab rendered it. Then deletes it, untimed. */
  async addTimed(title: string): Promise<number> {
    const form = document.getElementById('new-todo') as HTMLFormElement;
    const input = document.getElementById('new-title') as HTMLInputElement;
    const seen = nextMessage<{ title: string; id: string; t: number }>(channel, (d) => d.title === title);
    const t0 = now();
    input.value = title;
    form.requestSubmit();
    const { t, id } = await seen;
    await demo().todos.delete(id);
    await when(() => !rows().some((row) => row.dataset['id'] === id));
    return t - t0;
  },
};
(globalThis as Record<string, unknown>)['demoProbe'] = probe;
export type DemoProbe = typeof probe;
