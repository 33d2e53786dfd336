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
  await expect(panel.locator('[data-field^="tabs."]').first()).toHaveText('watching todos');
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
