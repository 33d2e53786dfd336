/**
 * The EventStore contract: every implementation runs this suite against a fresh database.
 * `open` gives an empty store; `reopen` opens a second store over the same database (the
 * suite closes the first one before calling it).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { compareEvents, Operation, type SequencedEvent, type SyncEvent } from '../protocol';
import { createLogger, type Logger } from '../server/log';
import { AppendRefused, storedBytes, type Commit, type EventStore } from '../server/store/event-store';

export interface OpenedStore {
  store: EventStore;
  /** The lines the store logged so far (it is opened with a logger that keeps them). */
  logged(): readonly string[];
  cleanup(): Promise<void>;
  /** Opens another store on the same database. */
  reopen(): Promise<EventStore>;
}

/** A logger that keeps its lines, for a store under test. */
export function keptLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: createLogger('debug', (line) => lines.push(line)), lines };
}

let counter = 0;
/** An event at `second` seconds after a fixed instant, so tests control createdAt order exactly. */
export function makeEvent(dataId: string, second: number, fields: Partial<SyncEvent> = {}): SyncEvent {
  const createdAt = new Date(Date.UTC(2024, 0, 1) + second * 1000).toISOString();
  return { eventId: `e${++counter}-${dataId}`, dataId, operation: Operation.update, createdAt, data: { dataId, second }, ...fields };
}

const withoutSequence = ({ serverSequence: _, ...event }: SequencedEvent): SyncEvent => event;

/** What `events` count against a namespace's quota when stored in `repository`. */
export function sizeOf(repository: string, events: readonly SyncEvent[]): number {
  return events.reduce((sum, e) => sum + storedBytes(repository, e, e.data === undefined ? null : JSON.stringify(e.data)), 0);
}

/** Proves that `namespace` holds exactly `used` bytes: a next event is refused by a quota of
 *  `used` + its size - 1 and stored under `used` + its size. */
export async function assertUsage(store: EventStore, namespace: string, used: number): Promise<void> {
  const next = makeEvent('next', 99);
  const room = used + sizeOf('todos', [next]);
  await assert.rejects(store.append(namespace, 'todos', [next], { quotaBytes: room - 1 }), AppendRefused, 'one byte short is refused');
  await store.append(namespace, 'todos', [next], { quotaBytes: room });
}

export function runStoreContract(label: string, open: () => Promise<OpenedStore>): void {
  describe(`EventStore contract: ${label}`, () => {
    let opened: OpenedStore;
    let store: EventStore;
    beforeEach(async () => {
      opened = await open();
      store = opened.store;
    });
    afterEach(async () => {
      await store.close();
      await opened.cleanup();
    });

    async function compacted(namespace: string, repository: string, afterSequence = 0, since?: string) {
      return (await store.readCompacted(namespace, repository, { afterSequence, since, limit: 10_000 })).events;
    }

    it('stores an event once: a duplicate eventId is flagged and keeps its first sequence', async () => {
      const event = makeEvent('a', 1);
      const [first] = await store.append('ns', 'todos', [event]);
      assert.equal(first?.duplicate, false);
      assert.ok((first?.event.serverSequence ?? 0) > 0);
      assert.deepEqual(withoutSequence(first!.event), event);

      const [again] = await store.append('ns', 'todos', [{ ...event, data: { changed: true } }]);
      assert.equal(again?.duplicate, true);
      assert.equal(again?.event.serverSequence, first?.event.serverSequence);
      assert.deepEqual(again?.event.data, event.data, 'a duplicate does not overwrite the stored event');

      const inOneBatch = makeEvent('b', 2);
      const results = await store.append('ns', 'todos', [inOneBatch, inOneBatch]);
      assert.deepEqual(results.map((r) => r.duplicate), [false, true]);
      assert.equal(results[0]?.event.serverSequence, results[1]?.event.serverSequence);

      assert.equal((await store.readLog('ns', 0, 100)).length, 2);
    });

    it('ignores a client-sent serverSequence and keeps data exactly', async () => {
      const data = { title: 'café ☕ 𝄞', nested: { list: [1, 'two', null, { deep: true }] }, n: 1.5 };
      const [result] = await store.append('ns', 'todos', [{ ...makeEvent('a', 1), data, serverSequence: 999_999 }]);
      const [logged] = await store.readLog('ns', 0, 10);
      assert.equal(logged?.event.serverSequence, result?.event.serverSequence);
      assert.notEqual(logged?.event.serverSequence, 999_999);
      assert.deepEqual(logged?.event.data, data);
      assert.equal(logged?.repository, 'todos');
    });

    it('assigns strictly increasing sequences per namespace, independent across namespaces', async () => {
      const a1 = await store.append('alpha', 'todos', [makeEvent('a', 1), makeEvent('b', 2)]);
      const b1 = await store.append('beta', 'todos', [makeEvent('a', 1)]);
      const a2 = await store.append('alpha', 'notes', [makeEvent('c', 3)]);
      const alpha = [...a1, ...a2].map((r) => r.event.serverSequence);
      assert.deepEqual([...alpha].sort((x, y) => x - y), alpha);
      assert.equal(new Set(alpha).size, alpha.length);
      assert.equal(b1[0]?.event.serverSequence, 1, 'a new namespace starts its own sequence');
      assert.equal(await store.maxSequence('alpha'), alpha.at(-1));
      assert.equal(await store.maxSequence('beta'), 1);
      assert.equal(await store.maxSequence('empty'), 0);
    });

    it('keeps sequences unique and increasing under concurrent appends', async () => {
      const batches = Array.from({ length: 12 }, (_, i) => [makeEvent(`r${i}`, i), makeEvent(`s${i}`, i)]);
      const results = await Promise.all(batches.map((events) => store.append('ns', 'todos', events)));
      for (const batch of results) {
        const [first, second] = batch.map((r) => r.event.serverSequence);
        assert.ok(first! < second!, 'a batch keeps its order');
      }
      const log = await store.readLog('ns', 0, 1000);
      const sequences = log.map((l) => l.event.serverSequence);
      assert.equal(log.length, 24);
      assert.equal(new Set(sequences).size, 24);
      assert.deepEqual([...sequences].sort((x, y) => x - y), sequences);
    });

    it('appends a batch atomically: a failing event leaves nothing behind', async () => {
      const unstorable = makeEvent('bad', 2, { data: { big: 10n } });
      await assert.rejects(store.append('ns', 'todos', [makeEvent('a', 1), unstorable, makeEvent('c', 3)]));
      assert.deepEqual(await store.readLog('ns', 0, 100), []);
      assert.deepEqual(await compacted('ns', 'todos'), []);
      const [ok] = await store.append('ns', 'todos', [makeEvent('a', 1)]);
      assert.equal(ok?.duplicate, false);
      assert.equal((await store.readLog('ns', 0, 100)).length, 1);
    });

    it('compacts by last-writer-wins on (createdAt, eventId): an older event arriving last does not win', async () => {
      const newer = makeEvent('r1', 10, { data: { v: 'newer' } });
      const older = makeEvent('r1', 5, { data: { v: 'older' } });
      const [stored] = await store.append('ns', 'todos', [newer]);
      await store.append('ns', 'todos', [older]);

      const winners = await compacted('ns', 'todos');
      assert.deepEqual(winners.map((e) => e.eventId), [newer.eventId]);
      assert.equal(winners[0]?.serverSequence, stored?.event.serverSequence);
      // The older event has the higher sequence, yet a client past the winner sees nothing new.
      assert.deepEqual(await compacted('ns', 'todos', stored!.event.serverSequence), []);

      const tieA = makeEvent('r2', 20, { eventId: 'tie-b' });
      const tieB = makeEvent('r2', 20, { eventId: 'tie-a' });
      await store.append('ns', 'todos', [tieA]);
      await store.append('ns', 'todos', [tieB]);
      const r2 = (await compacted('ns', 'todos')).find((e) => e.dataId === 'r2');
      assert.equal(r2?.eventId, 'tie-b', 'equal createdAt: the greater eventId wins, whatever the arrival order');
      assert.ok(compareEvents(tieA, tieB) > 0);
    });

    it('moves a record forward when a newer event arrives, and keeps deletes as winners', async () => {
      await store.append('ns', 'todos', [makeEvent('keep', 1), makeEvent('gone', 1)]);
      const [update] = await store.append('ns', 'todos', [makeEvent('keep', 2, { data: { v: 2 } })]);
      const [removal] = await store.append('ns', 'todos', [makeEvent('gone', 3, { operation: Operation.delete, data: undefined })]);
      const winners = await compacted('ns', 'todos');
      assert.deepEqual(
        winners.map((e) => [e.dataId, e.serverSequence]),
        [
          ['keep', update?.event.serverSequence],
          ['gone', removal?.event.serverSequence],
        ],
        'ordered by the winners\' sequences',
      );
      const deleted = winners[1]!;
      assert.equal(deleted.operation, Operation.delete);
      assert.equal(deleted.data, undefined);
    });

    it('pages the compacted view with afterSequence/limit/hasMore without losing a record', async () => {
      for (let round = 0; round < 3; round++) {
        const events = Array.from({ length: 17 }, (_, i) => makeEvent(`r${(i * 7 + round) % 17}`, round * 100 + i));
        await store.append('ns', 'todos', events);
      }
      const expected = await compacted('ns', 'todos');
      assert.equal(expected.length, 17);

      const seen: SequencedEvent[] = [];
      let after = 0;
      let pages = 0;
      for (;;) {
        const page = await store.readCompacted('ns', 'todos', { afterSequence: after, limit: 5 });
        assert.ok(page.events.length <= 5);
        pages++;
        seen.push(...page.events);
        if (pages === 2) {
          // A record already sent moves past the cursor: it must come again later.
          await store.append('ns', 'todos', [makeEvent(seen[0]!.dataId, 1000, { data: { moved: true } })]);
        }
        if (!page.hasMore) break;
        after = page.events.at(-1)!.serverSequence;
      }
      const latest = new Map(seen.map((e) => [e.dataId, e]));
      assert.equal(latest.size, 17, 'every record arrived');
      assert.deepEqual(latest.get(seen[0]!.dataId)?.data, { moved: true });
      const sequences = seen.map((e) => e.serverSequence);
      assert.deepEqual([...sequences].sort((x, y) => x - y), sequences, 'pages are in sequence order');
      assert.deepEqual(await compacted('ns', 'todos'), [...latest.values()].sort((x, y) => x.serverSequence - y.serverSequence));

      const exact = await store.readCompacted('ns', 'todos', { afterSequence: 0, limit: 17 });
      assert.equal(exact.events.length, 17);
      assert.equal(exact.hasMore, false, 'a page that ends at the last winner has no more');
    });

    it('pages the compacted view as JSON text within a byte budget: nothing skipped, hasMore exact, a large event alone', async () => {
      // Sizes from a few bytes to well past the budget, so pages hold one to many events.
      const sizes = [10, 3000, 20, 9000, 50, 50, 50, 2500, 30_000, 10, 10, 4000, 10];
      await store.append('ns', 'todos', sizes.map((size, i) => makeEvent(`t${i}`, i, { data: { text: 'x'.repeat(size) } })));
      await store.append('ns', 'todos', [makeEvent('t3', 50, { operation: Operation.delete, data: undefined })]);
      const expected = await compacted('ns', 'todos');
      const maxBytes = 8000;
      const seen: SequencedEvent[] = [];
      let after = 0;
      for (let pages = 0; ; pages++) {
        assert.ok(pages < 20);
        const page = await store.readCompactedText('ns', 'todos', { afterSequence: after, limit: 4, maxBytes });
        const bytes = page.events.reduce((sum, e) => sum + Buffer.byteLength(e.json) + 1, 0);
        assert.ok(page.events.length <= 4, 'at most the limit');
        assert.ok(page.events.length === 1 || bytes <= maxBytes, `${page.events.length} events in ${bytes} bytes`);
        for (const e of page.events) {
          const event = JSON.parse(e.json) as SequencedEvent;
          assert.equal(event.serverSequence, e.serverSequence);
          seen.push(event);
        }
        if (!page.hasMore) break;
        assert.ok(page.events.length > 0, 'a page with more is never empty');
        after = page.events.at(-1)!.serverSequence;
      }
      assert.deepEqual(seen, expected, 'the text pages give exactly the compacted view');
    });

    it('filters winners by since (createdAt strictly after)', async () => {
      const early = makeEvent('early', 1);
      const late = makeEvent('late', 10);
      await store.append('ns', 'todos', [early, late]);
      const since = new Date(Date.UTC(2024, 0, 1) + 5000).toISOString();
      assert.deepEqual((await compacted('ns', 'todos', 0, since)).map((e) => e.eventId), [late.eventId]);
      assert.deepEqual(await compacted('ns', 'todos', 0, late.createdAt), []);
    });

    it('reads the current winners of the records asked for, deletes flagged, other records and repositories left out', async () => {
      const later = makeEvent('a', 5);
      await store.append('ns', 'todos', [later, makeEvent('a', 1), makeEvent('b', 2), makeEvent('c', 3, { operation: Operation.delete, data: undefined })]);
      await store.append('ns', 'notes', [makeEvent('a', 9)]);
      const winners = await store.readWinners('ns', 'todos', ['a', 'c', 'missing']);
      assert.deepEqual(
        [...winners].sort(([x], [y]) => x.localeCompare(y)),
        [
          ['a', { createdAt: later.createdAt, eventId: later.eventId, deleted: false }],
          ['c', { createdAt: '2024-01-01T00:00:03.000Z', eventId: winners.get('c')?.eventId, deleted: true }],
        ],
      );
      assert.match(winners.get('c')!.eventId, /-c$/);
      assert.equal((await store.readWinners('other', 'todos', ['a'])).size, 0);
    });

    it('reads the raw log in sequence order, after a sequence, at most limit', async () => {
      await store.append('ns', 'todos', [makeEvent('a', 3)]);
      await store.append('ns', 'notes', [makeEvent('b', 1), makeEvent('c', 2)]);
      await store.append('ns', 'todos', [makeEvent('a', 1)]);
      const log = await store.readLog('ns', 0, 100);
      assert.deepEqual(log.map((l) => [l.repository, l.event.dataId]), [['todos', 'a'], ['notes', 'b'], ['notes', 'c'], ['todos', 'a']]);
      const after = await store.readLog('ns', log[0]!.event.serverSequence, 2);
      assert.deepEqual(after.map((l) => l.event.eventId), [log[1]!.event.eventId, log[2]!.event.eventId]);
      assert.deepEqual(await store.readLog('other', 0, 100), []);
    });

    it('keeps namespaces apart: same eventId stored in each, reads see only their own', async () => {
      const shared = makeEvent('a', 1);
      const [inA] = await store.append('a', 'todos', [shared]);
      const [inB] = await store.append('b', 'todos', [shared]);
      assert.equal(inA?.duplicate, false);
      assert.equal(inB?.duplicate, false);
      await store.append('a', 'todos', [makeEvent('only-a', 2)]);
      assert.deepEqual((await compacted('b', 'todos')).map((e) => e.dataId), ['a']);
      assert.deepEqual((await store.repositories('b')).map((r) => r.events), [1]);
    });

    it('lists repositories with their event counts and highest sequences', async () => {
      await store.append('ns', 'todos', [makeEvent('a', 1), makeEvent('a', 2)]);
      const [note] = await store.append('ns', 'notes', [makeEvent('n', 1)]);
      const [todo] = await store.append('ns', 'todos', [makeEvent('b', 3)]);
      await store.append('other', 'secret', [makeEvent('s', 1)]);
      const repositories = [...(await store.repositories('ns'))].sort((x, y) => x.name.localeCompare(y.name));
      assert.deepEqual(repositories, [
        { name: 'notes', events: 1, maxSequence: note?.event.serverSequence },
        { name: 'todos', events: 3, maxSequence: todo?.event.serverSequence },
      ]);
      assert.deepEqual(await store.repositories('nobody'), []);
    });

    it('tells listeners after a commit, with the namespace and its highest sequence', async () => {
      const heard: [string, number][] = [];
      let readable = -1;
      const stop = store.onAppended(({ namespace, maxSequence: max }) => {
        heard.push([namespace, max]);
        void store.readLog(namespace, 0, 100).then((log) => (readable = log.length));
      });
      const results = await store.append('ns', 'todos', [makeEvent('a', 1), makeEvent('b', 2)]);
      await waitFor(() => heard.length > 0 && readable >= 0);
      assert.deepEqual(heard.at(-1), ['ns', results[1]?.event.serverSequence]);
      assert.equal(readable, 2, 'the events are committed when the listener hears of them');

      stop();
      const before = heard.length;
      await store.append('ns', 'todos', [makeEvent('c', 3)]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(heard.length, before, 'an unsubscribed listener hears nothing');
    });

    it('tells listeners what this process committed: the stored events, in sequence order, as the log has them, each with its origin', async () => {
      const heard: Commit[] = [];
      const stop = store.onAppended((commit) => {
        if (commit.namespace === 'ns') heard.push(commit);
      });
      const [first] = await store.append('ns', 'todos', [makeEvent('a', 1)], { origin: 'conn-a' });
      // Concurrent appends (one transaction or several); a duplicate of `first` among them.
      await Promise.all([
        store.append('ns', 'todos', [makeEvent('b', 2), first!.event], { origin: 'conn-b' }),
        store.append('ns', 'notes', [makeEvent('c', 3)], { origin: 'server' }),
        store.append('ns', 'todos', [makeEvent('d', 4, { operation: Operation.delete, data: undefined })]),
      ]);
      await store.append('ns', 'todos', [first!.event], { origin: 'conn-c' }); // only a duplicate: nothing committed
      await waitFor(() => heard.length > 0 && heard.at(-1)!.maxSequence === 4);
      stop();
      const told = heard.flatMap((commit) => {
        const events = commit.events ?? [];
        assert.equal(events.at(-1)?.event.serverSequence, commit.maxSequence, 'a commit reports its events up to its highest sequence');
        assert.equal(events[0]?.event.serverSequence, commit.firstSequence, 'and from its lowest');
        return events;
      });
      assert.deepEqual(
        told.map(({ event, origin }) => [event.dataId, origin]),
        [['a', 'conn-a'], ['b', 'conn-b'], ['c', 'server'], ['d', undefined]],
        "each event with its own append's origin, even when appends share a transaction",
      );
      const withoutOrigins = told.map(({ repository, event }) => ({ repository, event }));
      assert.deepEqual(withoutOrigins, await store.readLog('ns', 0, 100), 'every stored event once, in order, equal to what the log reads back');
    });

    it('guards its listeners: one that throws or rejects is logged, the others hear the commit, the append resolves', async () => {
      const lines = opened.logged();
      const heard: number[] = [];
      const stops = [
        store.onAppended(() => {
          throw new Error('listener one broke');
        }),
        store.onAppended(async () => {
          throw new Error('listener two rejected');
        }),
        store.onAppended(({ maxSequence }) => void heard.push(maxSequence)),
      ];
      const [result] = await store.append('ns', 'todos', [makeEvent('a', 1)]);
      assert.equal(result?.duplicate, false);
      await waitFor(() => heard.length === 1 && lines.length >= 2);
      assert.deepEqual(heard, [result!.event.serverSequence]);
      const messages = lines.map((line) => JSON.parse(line) as { level: string; msg: string; namespace: string; error: { message: string } });
      assert.deepEqual(
        messages.map((m) => [m.level, m.msg, m.namespace, m.error.message]).sort(),
        [['error', 'onAppended listener failed', 'ns', 'listener one broke'], ['error', 'onAppended listener failed', 'ns', 'listener two rejected']],
      );
      // Still working for the next commit.
      await store.append('ns', 'todos', [makeEvent('b', 2)]);
      await waitFor(() => heard.length === 2);
      for (const stop of stops) stop();
    });

    it('refuses, whole, a push naming an eventId stored under another repository', async () => {
      const event = makeEvent('a', 1);
      await store.append('ns', 'todos', [event]);
      const fresh = makeEvent('b', 2);
      await assert.rejects(store.append('ns', 'notes', [fresh, { ...event, data: { other: true } }]), (error: unknown) => {
        assert.ok(error instanceof AppendRefused);
        assert.equal(error.code, 'event_id_conflict');
        assert.match(error.message, new RegExp(`${event.eventId} is already stored in repository todos`));
        return true;
      });
      assert.deepEqual(await compacted('ns', 'notes'), [], 'nothing of the refused push was stored');
      assert.equal(await store.maxSequence('ns'), 1);
      // The same id in two repositories in one group commit: the first is stored, the second refused.
      const twice = makeEvent('c', 3);
      const outcomes = await Promise.allSettled([store.append('ns', 'todos', [twice]), store.append('ns', 'notes', [twice])]);
      assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'rejected']);
      assert.deepEqual((await compacted('ns', 'todos')).map((e) => e.dataId), ['a', 'c']);
      assert.deepEqual(await compacted('ns', 'notes'), []);
    });

    it('keeps a namespace within its quota: exact to the byte, whole pushes refused, duplicates free, other namespaces apart', async () => {
      const first = [makeEvent('a', 1, { data: { title: 'é\u{1F600}' } }), makeEvent('b', 2, { operation: Operation.delete, data: undefined })];
      const second = [makeEvent('c', 3)];
      const quotaBytes = sizeOf('todos', first) + sizeOf('todos', second);
      await store.append('ns', 'todos', first, { quotaBytes });
      await store.append('ns', 'todos', [first[0]!], { quotaBytes: sizeOf('todos', first) }); // a duplicate takes nothing
      // Concurrent appends share a transaction; only the one that would pass the quota is refused.
      const one = [makeEvent('d', 4)];
      const outcomes = await Promise.allSettled([store.append('ns', 'todos', second, { quotaBytes }), store.append('ns', 'todos', one, { quotaBytes })]);
      assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'rejected']);
      const refusal = (outcomes[1] as PromiseRejectedResult).reason as unknown;
      assert.ok(refusal instanceof AppendRefused && refusal.code === 'quota_exceeded', String(refusal));
      assert.deepEqual((await compacted('ns', 'todos')).map((e) => e.dataId), ['a', 'b', 'c'], 'nothing of the refused push');
      await store.append('other', 'todos', one, { quotaBytes: sizeOf('todos', one) });

      await store.close();
      store = await opened.reopen();
      await assertUsage(store, 'ns', quotaBytes);
    });

    it('appends a batch over several repositories whole: one commit, consecutive sequences, results in part order, marked as one batch', async () => {
      const heard: Commit[] = [];
      const stop = store.onAppended((commit) => void heard.push(commit));
      const todos = [makeEvent('t1', 1), makeEvent('t2', 2)];
      const lists = [makeEvent('l1', 3, { operation: Operation.delete, data: undefined })];
      const parts = [{ repository: 'todos', events: todos }, { repository: 'lists', events: lists }];
      const results = await store.appendBatch('ns', parts, { origin: 'conn-a' });
      assert.deepEqual(results.map((r) => [r.repository, r.event.dataId, r.event.serverSequence, r.duplicate]), [
        ['todos', 't1', 1, false],
        ['todos', 't2', 2, false],
        ['lists', 'l1', 3, false],
      ]);
      await waitFor(() => heard.length > 0);
      stop();
      assert.equal(heard.length, 1, 'one commit');
      const events = heard[0]!.events ?? [];
      assert.deepEqual(events.map((e) => [e.repository, e.event.dataId, e.origin]), [['todos', 't1', 'conn-a'], ['todos', 't2', 'conn-a'], ['lists', 'l1', 'conn-a']]);
      const [batch] = new Set(events.map((e) => e.batch));
      assert.equal(typeof batch, 'number', 'every event carries the same batch number');
      assert.equal(new Set(events.map((e) => e.batch)).size, 1);
      assert.deepEqual((await compacted('ns', 'todos')).map((e) => e.dataId), ['t1', 't2']);
      assert.deepEqual((await compacted('ns', 'lists')).map((e) => e.dataId), ['l1']);
      const again = await store.appendBatch('ns', parts);
      assert.deepEqual(again.map((r) => [r.duplicate, r.event.serverSequence]), [[true, 1], [true, 2], [true, 3]], 'sent again: acked, nothing stored');
      const [single] = await store.append('ns', 'todos', [makeEvent('t3', 4)]);
      assert.equal(single?.event.serverSequence, 4);
    });

    it('refuses a batch whole: an eventId stored under another repository or given in two parts, the quota over all its parts, an unstorable event', async () => {
      const stored = makeEvent('s', 1);
      await store.append('ns', 'lists', [stored]);
      const used = sizeOf('lists', [stored]);
      const todos = [makeEvent('t1', 2), makeEvent('t2', 3)];
      const repeated = makeEvent('r', 4);
      const refusals: [string, Promise<unknown>][] = [
        ['event_id_conflict', store.appendBatch('ns', [{ repository: 'todos', events: todos }, { repository: 'notes', events: [{ ...stored, data: { x: 1 } }] }])],
        ['event_id_conflict', store.appendBatch('ns', [{ repository: 'todos', events: todos }, { repository: 'notes', events: [repeated] }, { repository: 'tags', events: [repeated] }])],
        ['quota_exceeded', store.appendBatch('ns', [{ repository: 'todos', events: todos }, { repository: 'notes', events: [makeEvent('n', 5)] }], {
          // Room for either part alone, not for both.
          quotaBytes: used + Math.max(sizeOf('todos', todos), sizeOf('notes', [makeEvent('n', 5)])) + 1,
        })],
      ];
      for (const [code, refused] of refusals) {
        await assert.rejects(refused, (error: unknown) => error instanceof AppendRefused && error.code === code, code);
      }
      await assert.rejects(store.appendBatch('ns', [{ repository: 'todos', events: todos }, { repository: 'notes', events: [makeEvent('big', 6, { data: { big: 10n } })] }]));
      assert.equal(await store.maxSequence('ns'), 1, 'nothing of any refused batch was stored');
      for (const repository of ['todos', 'notes', 'tags']) assert.deepEqual(await compacted('ns', repository), [], repository);
      // A refused batch sharing a group commit leaves the others stored.
      const outcomes = await Promise.allSettled([
        store.appendBatch('ns', [{ repository: 'todos', events: [makeEvent('ok', 7)] }, { repository: 'notes', events: [makeEvent('ok2', 8)] }]),
        store.appendBatch('ns', [{ repository: 'todos', events: [makeEvent('no', 9)] }, { repository: 'notes', events: [{ ...stored, data: { y: 2 } }] }]),
      ]);
      assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'rejected']);
      assert.deepEqual((await compacted('ns', 'todos')).map((e) => e.dataId), ['ok']);
      assert.deepEqual((await compacted('ns', 'notes')).map((e) => e.dataId), ['ok2']);
    });

    it('keeps events and sequences when the store is opened again', async () => {
      const first = await store.append('ns', 'todos', [makeEvent('a', 1), makeEvent('b', 2)]);
      await store.close();
      store = await opened.reopen();
      assert.equal(await store.maxSequence('ns'), first[1]?.event.serverSequence);
      assert.deepEqual((await compacted('ns', 'todos')).map((e) => e.eventId), first.map((r) => r.event.eventId));
      const [again] = await store.append('ns', 'todos', [first[0]!.event]);
      assert.equal(again?.duplicate, true, 'dedup survives a reopen');
      const [next] = await store.append('ns', 'todos', [makeEvent('c', 3)]);
      assert.ok(next!.event.serverSequence > first[1]!.event.serverSequence, 'sequences continue after a reopen');
    });
  });
}

async function waitFor(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
