/**
 * tabsync/react in real browsers: the React test app (test-e2e/react-app/, React's development
 * build under StrictMode) renders a list with useQuery, one record with useRecord and a status
 * line with useSyncStatus; what another tab writes shows in it, and mounting and unmounting it
 * leaves exactly the subscriptions of what is mounted: in the page, in the worker, in Web Locks.
 */
import type { Page } from '@playwright/test';
import type { LiveCounts, Part } from './react-app/app';
import { expect, test, upsert, waitConnected } from './fixtures';

const REACT_PAGE = '/react/index.html';
/** The record the app's record line shows. */
const PINNED_ID = 'pinned';

async function openReactApp(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForFunction(() => window.reactApp !== undefined);
  await waitConnected(page);
}

const live = (page: Page): Promise<LiveCounts> => page.evaluate(() => ({ ...window.reactApp.live }));
const mount = (page: Page, parts?: Part[]) => page.evaluate((only) => window.reactApp.mount(only), parts);
const unmount = (page: Page) => page.evaluate(() => window.reactApp.unmount());

/** What the worker says each attached tab watches. */
async function watching(page: Page): Promise<string[][]> {
  const { tabs } = await page.evaluate(() => window.lf.diagnostics());
  return tabs.map((tab) => tab.watching);
}

/** The names of the Web Locks held in the profile (this tab's and its worker's), sorted. */
const heldLocks = (page: Page): Promise<string[]> =>
  page.evaluate(async () => ((await navigator.locks.query()).held ?? []).map((lock) => lock.name ?? '').sort());

test('a write in one tab shows in another tab\'s React list, record and status line', async ({ context, server }) => {
  const shown = await context.newPage();
  const writer = await context.newPage();
  await openReactApp(shown, server.url + REACT_PAGE);
  await openReactApp(writer, server.url + REACT_PAGE);
  await mount(shown);
  await expect(shown.getByTestId('status')).toHaveText('connected, pending 0');
  await expect(shown.getByTestId('list')).toBeEmpty();
  await expect(shown.getByTestId('record')).toHaveText('none');

  await upsert(writer, { id: 'b', title: 'second', done: false });
  await upsert(writer, { id: PINNED_ID, title: 'first', done: false });
  await expect(shown.getByTestId('list').getByRole('listitem')).toHaveText(['second', 'first']);
  await expect(shown.getByTestId('record')).toHaveText('first');

  await upsert(writer, { id: PINNED_ID, title: 'changed', done: true });
  await expect(shown.getByTestId('record')).toHaveText('changed');
  await writer.evaluate((id) => window.todos.delete(id), PINNED_ID);
  await expect(shown.getByTestId('list').getByRole('listitem')).toHaveText(['second']);
  await expect(shown.getByTestId('record')).toHaveText('none');

  // The status line follows the shared runtime: stopped by the other tab, a write waiting, resumed.
  // (Stopped only once the writes above were acknowledged: a stop before would leave them pending.)
  await expect(shown.getByTestId('status')).toHaveText('connected, pending 0');
  await writer.evaluate(() => window.lf.stop());
  await expect(shown.getByTestId('status')).toHaveText('offline, pending 0');
  await upsert(writer, { id: 'c', title: 'third', done: false });
  await expect(shown.getByTestId('status')).toHaveText('offline, pending 1');
  await expect(shown.getByTestId('list').getByRole('listitem')).toHaveText(['second', 'third']);
  await writer.evaluate(() => window.lf.start());
  await expect(shown.getByTestId('status')).toHaveText('connected, pending 0');
});

test('StrictMode mount and unmount cycles leave one watch per hook, one worker watch, no extra Web Lock or tab', async ({ page, server }) => {
  await openReactApp(page, server.url + REACT_PAGE);
  await upsert(page, { id: PINNED_ID, title: 'pinned one', done: false });
  const locksBefore = await heldLocks(page);
  expect(locksBefore.length).toBeGreaterThan(0);
  expect(await watching(page)).toEqual([[]]);

  // Each mount under StrictMode subscribes, unsubscribes and subscribes again.
  for (let cycle = 1; cycle <= 3; cycle++) {
    await mount(page);
    await expect(page.getByTestId('record')).toHaveText('pinned one');
    expect((await live(page)).listSubscriptions).toBe(2 * cycle);
    await unmount(page);
  }
  await mount(page);
  await expect(page.getByTestId('record')).toHaveText('pinned one');
  await expect(page.getByTestId('status')).toHaveText('connected, pending 0');
  // The list and the record each hold one watch, the status line one listener.
  await expect.poll(() => live(page)).toMatchObject({ watches: 2, statusListeners: 1 });
  await expect.poll(() => watching(page)).toEqual([['todos']]);

  await unmount(page);
  await expect.poll(() => live(page)).toMatchObject({ watches: 0, statusListeners: 0 });
  // A callback left behind would keep the tab's one worker watch alive.
  await expect.poll(() => watching(page)).toEqual([[]]);
  expect(await heldLocks(page)).toEqual(locksBefore);
});

test('a record line alone, its repository made anew at each render, neither loops nor leaks', async ({ page, server }) => {
  await openReactApp(page, server.url + REACT_PAGE);
  await upsert(page, { id: PINNED_ID, title: 'pinned one', done: false });
  await mount(page, ['record']);
  await expect(page.getByTestId('record')).toHaveText('pinned one');
  await upsert(page, { id: PINNED_ID, title: 'pinned two', done: false });
  await expect(page.getByTestId('record')).toHaveText('pinned two');
  // A resubscribe that went back to the worker would bring the records again as new objects, and
  // render again: two round trips to the worker later, nothing has rendered.
  const renders = (await live(page)).recordRenders;
  await page.evaluate(async () => {
    await window.lf.diagnostics();
    await window.lf.diagnostics();
  });
  expect((await live(page)).recordRenders).toBe(renders);
  await expect.poll(() => live(page)).toMatchObject({ watches: 1 });
  expect(await watching(page)).toEqual([['todos']]);
  await unmount(page);
  await expect.poll(() => watching(page)).toEqual([[]]);
  expect((await live(page)).watches).toBe(0);
});

/** The worker's live window queries on todos (the app's query window is the only one), as
 *  `{ watchers, count }`. */
async function windowQueries(page: Page): Promise<{ watchers: number; count: number | undefined }[]> {
  const { queries } = await page.evaluate(() => window.lf.diagnostics());
  return queries.filter((query) => query.kind === 'window' && query.repository === 'todos').map(({ watchers, count }) => ({ watchers, count }));
}

test("useQuery with a real query (where, orderBy, limit) follows another tab's writes into and out of its window; StrictMode leaks no watch", async ({ context, server }) => {
  const shown = await context.newPage();
  const writer = await context.newPage();
  await openReactApp(shown, server.url + REACT_PAGE);
  await openReactApp(writer, server.url + REACT_PAGE);
  const items = shown.getByTestId('window').getByRole('listitem');
  const todo = (id: string, title: string, done = false) => upsert(writer, { id, title, done });

  // Mounted and unmounted under StrictMode (subscribe, unsubscribe, subscribe each time), then mounted.
  for (let cycle = 1; cycle <= 2; cycle++) {
    await mount(shown, ['window']);
    await expect(shown.getByTestId('window')).toBeEmpty();
    await unmount(shown);
  }
  await mount(shown, ['window']);
  await expect(shown.getByTestId('window')).toBeEmpty();
  expect((await live(shown)).windowSubscriptions).toBeGreaterThanOrEqual(6);
  await expect.poll(() => live(shown)).toMatchObject({ windowWatches: 1 });
  await expect.poll(() => windowQueries(shown)).toEqual([{ watchers: 1, count: 0 }]);

  for (const [id, title] of [['d', 'date'], ['b', 'banana'], ['a', 'apple'], ['c', 'cherry']]) await todo(id!, title!);
  await todo('x', 'aardvark, done', true); // matches no `where`: never shows
  await expect(items).toHaveText(['apple', 'banana', 'cherry']);
  await todo('e', 'avocado'); // enters at the second place, cherry leaves
  await expect(items).toHaveText(['apple', 'avocado', 'banana']);
  await todo('a', 'apple', true); // done: leaves, cherry comes back
  await expect(items).toHaveText(['avocado', 'banana', 'cherry']);
  await writer.evaluate(() => window.todos.delete('b'));
  await expect(items).toHaveText(['avocado', 'cherry', 'date']);
  await todo('e', 'zucchini'); // renamed past the window's end
  await expect(items).toHaveText(['cherry', 'date', 'zucchini']);
  await todo('d', 'blueberry'); // moves to the front
  await expect(items).toHaveText(['blueberry', 'cherry', 'zucchini']);
  await expect.poll(() => windowQueries(shown)).toEqual([{ watchers: 1, count: 3 }]);

  await unmount(shown);
  await expect.poll(() => live(shown)).toMatchObject({ windowWatches: 0 });
  // The tab's one worker watch of the query went with its last callback.
  await expect.poll(() => windowQueries(shown)).toEqual([]);
});
