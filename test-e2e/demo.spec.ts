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

test('the demo shows the connection and the changes waiting to sync', async ({ page, server }) => {
  test.setTimeout(90_000); // waits for the worker's reconnect back-off
  await page.goto(server.url);
  const badge = page.locator('#connection');
  const pending = page.locator('#pending');
  await expect(badge).toHaveText('Connected');

  await server.stop();
  await expect(badge).toHaveText('Offline');
  await expect(page.locator('#last-error')).toContainText('Sync error');
  for (const title of ['First', 'Second', 'Third']) {
    await page.getByLabel('New todo').fill(title);
    await page.getByLabel('New todo').press('Enter');
  }
  await expect(pending).toHaveText('3 changes waiting to sync');
  await expect(page.locator('.todo .title')).toHaveText(['First', 'Second', 'Third']);

  await server.restart();
  await expect(badge).toHaveText('Connected', { timeout: 45_000 });
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
