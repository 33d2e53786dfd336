/**
 * `lf.onLog(cb)`: a tab that asked gets the worker's warnings. The trigger is deterministic:
 * another device pushes a record that fails the app's schema; the worker drops it and warns.
 */
import type { LogEntry } from '../protocol/tab-api';
import { expect, test, upsert, waitConnected, waitSynced, watched, watchTodos } from './fixtures';
import { openDemo, pushFromAnotherDevice } from './lifecycle';

declare global {
  interface Window {
    logs?: LogEntry[];
    unsubscribedLogs?: LogEntry[];
  }
}

test('onLog hands the worker warning about a bad remote record to the tab that asked; an unsubscribed callback gets nothing', async ({ context, server }) => {
  const listening = await openDemo(context, server.url);
  const unsubscribed = await openDemo(context, server.url);
  await waitConnected(listening);
  await watchTodos(listening);
  await listening.evaluate(() => {
    const logs: LogEntry[] = [];
    window.logs = logs;
    window.lf.onLog((entry) => logs.push(entry));
  });
  await unsubscribed.evaluate(() => {
    const logs: LogEntry[] = [];
    window.unsubscribedLogs = logs;
    window.lf.onLog((entry) => logs.push(entry))();
  });

  // A device running another version of the app pushes a todo whose title is not a string.
  const [eventId = ''] = await pushFromAnotherDevice(server, 'todos', [{ id: 'bad', title: 42, done: false }]);
  const warnings = () => listening.evaluate((id) => window.logs?.filter((line) => line.message.includes(id)) ?? [], eventId);

  await expect.poll(warnings).toHaveLength(1);
  const [entry] = await warnings();
  expect(entry?.level).toBe('warn');
  expect(Date.parse(entry?.at ?? '')).not.toBeNaN();
  // The demo's diagnostics panel shows it too.
  await listening.locator('#diagnostics summary').click();
  await expect(listening.locator('#diagnostics-log-list')).toContainText(eventId);
  // A round trip to the worker: the warning, sent to every tab before, has reached this one.
  await unsubscribed.evaluate(() => window.lf.status());
  expect(await unsubscribed.evaluate(() => window.unsubscribedLogs)).toEqual([]);

  // The bad record was stored nowhere; sync goes on.
  await upsert(listening, { id: 'good', title: 'after the bad one', done: false });
  await waitSynced(listening);
  await expect.poll(() => watched(listening)).toEqual([{ id: 'good', title: 'after the bad one', done: false }]);
});
