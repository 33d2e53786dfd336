import { allTodos, expect, test } from './fixtures';

test('the demo adds, toggles, renames and deletes todos by clicking, in every tab', async ({ context, server }) => {
  const page = await context.newPage();
  await page.goto(server.url);
  await expect(page.locator('#connection')).toHaveText('Connected');
  await expect(page.getByText('Nothing to do yet')).toBeVisible();

  await page.getByLabel('New todo').fill('Buy milk');
  await page.getByRole('button', { name: 'Add' }).click();
  const item = page.locator('.todo', { hasText: 'Buy milk' });
  await expect(item).toBeVisible();
  await expect(page.getByLabel('New todo')).toHaveValue('');
  await expect(page.locator('#remaining')).toHaveText('1 item left');

  const otherTab = await context.newPage();
  await otherTab.goto(server.url);
  await expect(otherTab.locator('.todo .title')).toHaveText(['Buy milk']);

  await page.getByRole('checkbox', { name: 'Done: Buy milk' }).check();
  await expect(item).toHaveClass(/\bdone\b/);
  await expect(otherTab.getByRole('checkbox', { name: 'Done: Buy milk' })).toBeChecked();
  await expect(page.locator('#remaining')).toHaveText('0 items left');

  await page.getByRole('button', { name: 'Rename Buy milk' }).click();
  await page.getByLabel('New title for Buy milk').fill('Buy oat milk');
  await page.getByLabel('New title for Buy milk').press('Enter');
  await expect(page.locator('.todo .title')).toHaveText(['Buy oat milk']);
  await expect(otherTab.locator('.todo .title')).toHaveText(['Buy oat milk']);

  // F2 or Enter on the focused title edits it too; Escape keeps the old title.
  for (const key of ['F2', 'Enter']) {
    await page.locator('.todo .title').press(key);
    await page.getByLabel('New title for Buy oat milk').fill('Never saved');
    await page.getByLabel('New title for Buy oat milk').press('Escape');
    await expect(page.locator('.todo .title')).toHaveText(['Buy oat milk']);
  }
  // So does a double click (dispatched: Playwright's BiDi double click fires no `dblclick`).
  await page.locator('.todo .title').dispatchEvent('dblclick');
  await expect(page.getByLabel('New title for Buy oat milk')).toBeVisible();
  await page.getByLabel('New title for Buy oat milk').press('Escape');

  const [stored] = await allTodos(page);
  expect(stored).toMatchObject({ title: 'Buy oat milk', done: true });

  await page.getByRole('button', { name: 'Delete Buy oat milk' }).click();
  await expect(page.locator('.todo')).toHaveCount(0);
  await expect(otherTab.locator('.todo')).toHaveCount(0);
  await expect(page.getByText('Nothing to do yet')).toBeVisible();
  expect(await allTodos(page)).toEqual([]);
});

test('the demo shows the connection and the changes waiting to sync; offline is calm, and Retry now skips the backoff', async ({ page, server }) => {
  test.setTimeout(90_000); // waits for the worker to notice the server is gone
  await page.goto(server.url);
  const badge = page.locator('#connection');
  const pending = page.locator('#pending');
  await expect(badge).toHaveText('Connected');

  await server.stop();
  await expect(badge).toHaveText('Offline');
  await expect(page.locator('#offline-notice')).toContainText('Offline — changes are kept on this device');
  await expect(page.locator('#last-error')).toBeHidden();
  for (const title of ['First', 'Second', 'Third']) {
    await page.getByLabel('New todo').fill(title);
    await page.getByLabel('New todo').press('Enter');
  }
  await expect(pending).toHaveText('3 changes waiting to sync');
  await expect(page.locator('.todo .title')).toHaveText(['First', 'Second', 'Third']);

  // Once the backoff has grown so that the next attempt is 4 s away or more, the server returns:
  // Connected before that attempt is due means Retry now skipped the wait.
  const nextAttempt = async () => Date.parse((await page.evaluate(() => window.lf.diagnostics())).connection.reconnectAt ?? '') - Date.now();
  await expect.poll(nextAttempt, { timeout: 60_000 }).toBeGreaterThan(4000);
  const dueIn = await nextAttempt();
  await server.restart();
  await page.getByRole('button', { name: 'Retry now' }).click();
  await expect(badge).toHaveText('Connected', { timeout: dueIn - 1000 });
  await expect(page.locator('#offline-notice')).toBeHidden();
  await expect(pending).toHaveText('All changes synced');
  await expect(page.locator('#last-error')).toBeHidden();
  expect((await server.records('todos')).map((todo) => todo['title'])).toEqual(['First', 'Second', 'Third']);
});

test('the diagnostics panel opens, shows the worker and its storage, and keeps up while open', async ({ context, page, server }) => {
  await page.goto(server.url);
  await expect(page.locator('#connection')).toHaveText('Connected');
  const panel = page.locator('#diagnostics');
  await expect(panel.locator('[data-field="worker.id"]')).toBeHidden();

  await panel.getByText('Diagnostics').click();
  const { worker } = await page.evaluate(() => window.lf.diagnostics());
  await expect(panel.locator('[data-field="worker.id"]')).toHaveText(worker.id);
  await expect(panel.locator('[data-field="worker.mode"]')).toHaveText('shared');
  await expect(panel.locator('[data-field="storage.mode"]')).toHaveText('IndexedDB');
  // A development server puts everyone in namespace `default`.
  await expect(panel.locator('[data-field="storage.namespace"]')).toHaveText('default');
  await expect(panel.locator('[data-field="connection.state"]')).toHaveText('connected');
  await expect(panel.locator('[data-field="outbox.pending"]')).toHaveText('0');
  await expect(panel.locator('[data-field="repositories.todos"]')).toContainText('0 records');
  await expect(panel.locator('[data-field^="tabs."]')).toHaveCount(1);

  // Changes made elsewhere show up without closing and opening the panel again.
  const otherTab = await context.newPage();
  await otherTab.goto(server.url);
  await otherTab.getByLabel('New todo').fill('Seen in the panel');
  await otherTab.getByLabel('New todo').press('Enter');
  await expect(panel.locator('[data-field="repositories.todos"]')).toContainText('1 record,');
  await expect(panel.locator('[data-field^="tabs."]')).toHaveCount(2);
  // The demo's tabs watch queries (a window and its counts), not the whole repository.
  await expect(panel.locator('[data-field^="tabs."]').first()).toHaveText('watching queries only');
  await expect(panel.locator('[data-field^="queries."]').filter({ hasText: '2 watchers' }).first()).toContainText('1 matching');
});

test('the first load says Loading… alone, then what is true', async ({ context, page, server }) => {
  // The worker script waits until the page was looked at: nothing is known yet.
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  await context.route('**/sync-worker.js', async (route) => {
    await released;
    await route.continue();
  });
  await page.goto(server.url);
  await expect(page.locator('#empty')).toHaveText('Loading…');
  await expect(page.locator('#pending')).toHaveText('');
  await expect(page.getByText('Nothing to do yet')).toBeHidden();
  release();
  await expect(page.getByText('Nothing to do yet')).toBeVisible();
  await expect(page.locator('#pending')).toHaveText('All changes synced');
  await expect(page.getByText('Loading…')).toBeHidden();
});

test('the filters switch the list, and the count follows a write in another tab', async ({ context, page, server }) => {
  await page.goto(server.url);
  await expect(page.locator('#connection')).toHaveText('Connected');
  for (const title of ['Buy milk', 'Walk the dog', 'Call mum']) {
    await page.getByLabel('New todo').fill(title);
    await page.getByLabel('New todo').press('Enter');
  }
  await page.getByRole('checkbox', { name: 'Done: Walk the dog' }).check();
  const count = page.locator('#filter-count');
  await expect(count).toHaveText('2 active · 1 done');

  const all = page.getByRole('button', { name: 'All', exact: true });
  const active = page.getByRole('button', { name: 'Active', exact: true });
  const done = page.getByRole('button', { name: 'Done', exact: true });
  await expect(all).toHaveAttribute('aria-pressed', 'true');
  await active.click();
  await expect(active).toHaveAttribute('aria-pressed', 'true');
  await expect(all).toHaveAttribute('aria-pressed', 'false');
  await expect(page.locator('.todo .title')).toHaveText(['Buy milk', 'Call mum']);
  await done.click();
  await expect(page.locator('.todo .title')).toHaveText(['Walk the dog']);

  // Another tab finishes a todo: it joins this tab's Done list and the count follows.
  const otherTab = await context.newPage();
  await otherTab.goto(server.url);
  await otherTab.getByRole('checkbox', { name: 'Done: Call mum' }).check();
  await expect(count).toHaveText('1 active · 2 done');
  await expect(page.locator('.todo .title')).toHaveText(['Walk the dog', 'Call mum']);
  await active.click();
  await expect(page.locator('.todo .title')).toHaveText(['Buy milk']);
  await otherTab.getByRole('checkbox', { name: 'Done: Buy milk' }).check();
  await expect(count).toHaveText('0 active · 3 done');
  await expect(page.locator('.todo')).toHaveCount(0);
  await expect(page.getByText('Nothing left to do.')).toBeVisible();
  await all.click();
  await expect(page.locator('.todo .title')).toHaveText(['Buy milk', 'Walk the dog', 'Call mum']);
});

test('the list shows a window of the todos, and Show more raises its limit', async ({ page, server }) => {
  await page.goto(server.url);
  await expect(page.locator('#connection')).toHaveText('Connected');
  await page.evaluate(() =>
    window.todos.upsertMany(Array.from({ length: 300 }, (_, i) => ({ id: `seed-${String(i).padStart(3, '0')}`, title: `Todo ${i}`, done: i % 3 === 0 }))),
  );
  await expect(page.locator('#filter-count')).toHaveText('200 active · 100 done');
  await expect(page.locator('.todo')).toHaveCount(100);
  await expect(page.locator('.todo .title').first()).toHaveText('Todo 0');
  await expect(page.locator('#window-text')).toHaveText('Showing the first 100 of 300.');

  await page.getByRole('button', { name: 'Show more' }).click();
  await expect(page.locator('.todo')).toHaveCount(200);
  await expect(page.locator('.todo .title').last()).toHaveText('Todo 199');

  // A filter starts at one window again; the Done list holds 100 and needs no Show more.
  await page.getByRole('button', { name: 'Active', exact: true }).click();
  await expect(page.locator('.todo')).toHaveCount(100);
  await expect(page.locator('#window-text')).toHaveText('Showing the first 100 of 200.');
  await page.getByRole('button', { name: 'Done', exact: true }).click();
  await expect(page.locator('.todo')).toHaveCount(100);
  await expect(page.locator('#window')).toBeHidden();
  await expect(page.locator('.todo .title').first()).toHaveText('Todo 0');

  // The tab watches a window, not the whole repository: the worker serves it from the done index.
  const { queries } = await page.evaluate(() => window.lf.diagnostics());
  expect(JSON.stringify(queries)).toContain('index done');
});
