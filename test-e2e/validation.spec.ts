import { allTodos, expect, openApp, test, upsert, waitSynced, watched, watchTodos } from './fixtures';

test('an invalid record is rejected with code invalid_record and stored nowhere', async ({ context, server }) => {
  const writer = await openApp(context, server);
  const reader = await openApp(context, server);
  await watchTodos(reader);

  const failure = await writer.evaluate(async () => {
    try {
      await window.todos.upsert({ id: 'bad', title: 42 } as unknown as Parameters<typeof window.todos.upsert>[0]);
      return undefined;
    } catch (error) {
      const { name, message, code } = error as Error & { code?: string };
      return { isError: error instanceof Error, name, message, code };
    }
  });
  expect(failure).toMatchObject({ isError: true, name: 'SyncError', code: 'invalid_record' });
  expect(failure?.message).not.toBe('');

  // A valid write made after it reaches the other tab and the server; the invalid one never does.
  const valid = { id: 'good', title: 'Valid', done: false };
  await upsert(writer, valid);
  await expect.poll(() => watched(reader)).toEqual([valid]);
  expect(await allTodos(writer)).toEqual([valid]);
  await waitSynced(writer);
  expect(await server.records('todos')).toEqual([valid]);
});
