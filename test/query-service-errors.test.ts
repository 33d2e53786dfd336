/**
 * The query service's storage failures reach the tab as `storage_failed`, whichever call met them:
 * a one-shot read, a count, the start of a watch.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QueryService } from '../worker/runtime/queries';

const broken = () => Promise.reject(new Error('Connection is closing'));

test('get, count and watch of a query whose storage fails reject with storage_failed', async () => {
  const service = new QueryService({ query: broken, count: broken, watchStart: broken });
  const query = { where: { done: false }, limit: 10 };
  await assert.rejects(service.get('todos', query), { code: 'storage_failed' });
  await assert.rejects(service.count('todos', query), { code: 'storage_failed' });
  await assert.rejects(service.watch('todos', query, 'window', () => {}), { code: 'storage_failed' });
  await assert.rejects(service.watch('todos', query, 'count', () => {}), { code: 'storage_failed' });
});
