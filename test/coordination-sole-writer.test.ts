/**
 * The database's only writer (coordination/writer-lock.ts, coordination/write-forwarding.ts):
 * runtimes on one database, with Web Locks in one process (helpers/web-locks.ts) and real
 * elections. The leader commits every runtime's writes, knowing its records' versions; every
 * handover (a follower becoming leader, two deployments, a holder killed mid-write, a storage
 * loss) loses nothing and applies nothing twice: the database and the server's log say so.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { deleteDB } from 'idb';
import { connectionElection, peerElection } from '../worker/coordination/leader';
import { openPeers, type PeerMessage, type Peers } from '../worker/coordination/peers';
import { TestServers, type TestServer } from './helpers/server';
import { InProcessLocks } from './helpers/web-locks';
import { dumpDatabase, RecordingLogger, RecordingTab, settled, TestCores, uniqueDatabaseName, waitFor, type TestCore } from './helpers/worker';

const servers = new TestServers();
const cores = new TestCores();

afterEach(async () => {
  await cores.closeAll();
  await servers.stopAll();
});

/** Peers whose messages the test can stop, as a worker's death stops them: `answers` drops the
 *  writer's answers only (it committed, then died before answering), `cut` everything. */
function severable(peers: Peers): Peers & { dropAnswers(): void; cut(): void } {
  let dropping: (message: PeerMessage) => boolean = () => false;
  let deaf = false;
  return {
    post: (message) => {
      if (!dropping(message)) peers.post(message);
    },
    listen: (handler) => peers.listen((message) => deaf || handler(message)),
    close: () => peers.close(),
    dropAnswers: () => (dropping = (message) => message.type === 'written'),
    cut: () => {
      dropping = () => true;
      deaf = true;
    },
  };
}

interface Runtime {
  name: string;
  core: TestCore;
  peers: ReturnType<typeof severable>;
}

class Profile {
  readonly locks = new InProcessLocks();
  readonly databaseName = uniqueDatabaseName();

  constructor(private readonly server: TestServer) {}

  /** A runtime of this profile: a dedicated worker (`peer`) or a deployment's SharedWorker. */
  async open(name: string, strategy: 'peer' | 'shared'): Promise<Runtime> {
    const peers = severable(openPeers(this.databaseName, new RecordingLogger()));
    const locks = this.locks.manager(name);
    const elect = strategy === 'peer' ? peerElection(this.databaseName, locks) : connectionElection(this.databaseName, locks);
    const core = await cores.open(this.server.syncUrl, { databaseName: this.databaseName, locks, coordination: { strategy, peers, elect } });
    return { name, core, peers };
  }

  /** A leader and a follower (dedicated workers), the leader synced. */
  async syncedPair(): Promise<{ leader: Runtime; follower: Runtime }> {
    const leader = await this.open('leader', 'peer');
    const follower = await this.open('follower', 'peer');
    await leader.core.api.start();
    await settled(leader.core);
    return { leader, follower };
  }

  /** The runtime's worker ends at once: it says nothing more, the browser releases its locks. */
  async kill(runtime: Runtime): Promise<void> {
    runtime.peers.cut();
    this.locks.kill(runtime.name);
    await runtime.core.close();
  }
}

const todo = (id: string) => ({ id, title: id, done: false });

/** How often the server stored an event for each record id. */
async function storedTimes(s: TestServer): Promise<Record<string, number>> {
  const times: Record<string, number> = {};
  for (const { event } of await s.store.readLog('default', 0, 1000)) times[event.dataId] = (times[event.dataId] ?? 0) + 1;
  return times;
}

/** The record ids the database holds, and how many outbox entries each has. */
async function stored(databaseName: string): Promise<{ records: string[]; outbox: Record<string, number> }> {
  const dump = await dumpDatabase(databaseName);
  const outbox: Record<string, number> = {};
  for (const { value } of dump['outbox'] ?? []) {
    const id = (value as { event: { dataId: string } }).event.dataId;
    outbox[id] = (outbox[id] ?? 0) + 1;
  }
  return { records: (dump['records'] ?? []).map(({ value }) => (value as { id: string }).id).sort(), outbox };
}

const known = async (runtime: Runtime) => (await runtime.core.api.diagnostics()).storage.knownVersions;
const onceEach = (ids: string[]) => Object.fromEntries(ids.map((id) => [id, 1]));

test('the leader is the only writer: a follower\'s writes are committed by it, which knows every record\'s version', async () => {
  const s = await servers.start();
  const profile = new Profile(s);
  const leader = await profile.open('leader', 'peer');
  await waitFor(() => profile.locks.heldBy('leader').includes(`${profile.databaseName}-writer`), 'the leader to hold the writer lock');
  const follower = await profile.open('follower', 'peer');
  const tab = new RecordingTab();
  await follower.core.tab('f').attach(tab);
  await follower.core.tab('f').watch('todos');

  await leader.core.api.upsert('todos', todo('l1'));
  for (const id of ['f1', 'f2']) await follower.core.api.upsert('todos', todo(id));
  await follower.core.api.upsertMany('todos', [todo('f3'), todo('f4')]);
  await follower.core.api.delete('todos', 'f4');
  await follower.core.api.patch('todos', 'f1', { done: true });
  // Answered once the follower's own watchers have the write, as a local commit would.
  assert.deepEqual(tab.lists.at(-1)?.records.map((r) => r.id), ['f1', 'f2', 'f3', 'l1']);
  assert.equal((await follower.core.api.get('todos', 'f1'))?.['done'], true);
  // What the writer refuses, the follower's tab is refused.
  await assert.rejects(follower.core.api.patch('todos', 'none', { done: true }), (error: { code?: string }) => error.code === 'not_found');
  await assert.rejects(follower.core.api.upsert('todos', { id: 'bad' }), (error: { code?: string }) => error.code === 'invalid_record');

  // Every record's version went through the leader: it knows all five (f4's tombstone too).
  assert.deepEqual(await known(leader), { entries: 5, estimatedBytes: 5 * 200 + 2 * 'todos/l1todos/f1todos/f2todos/f3todos/f4'.length });
  assert.equal(await known(follower), undefined);
  assert.equal((await follower.core.api.status()).pending, 7);

  await follower.core.api.start();
  await settled(leader.core, 'the leader to push every write');
  assert.deepEqual(await storedTimes(s), { l1: 1, f1: 2, f2: 1, f3: 1, f4: 2 });
  await waitFor(async () => (await follower.core.api.status()).pending === 0, 'the follower to show them acknowledged');
});

test('a follower becoming leader takes the writer lock once the old leader let go, and loads what it knows before it writes', async () => {
  const s = await servers.start();
  const profile = new Profile(s);
  const { leader, follower } = await profile.syncedPair();
  for (const id of ['a', 'b']) await follower.core.api.upsert('todos', todo(id));
  await leader.core.api.upsert('todos', todo('c'));

  // The leader's tab closes; its worker closes in order.
  const writes = [follower.core.api.upsert('todos', todo('d')), leader.core.close().then(() => follower.core.api.upsert('todos', todo('e')))];
  await Promise.all(writes);
  await waitFor(async () => (await follower.core.api.diagnostics()).worker.mode === 'leader', 'the follower to lead');
  assert.deepEqual(profile.locks.heldBy('leader'), []);
  await waitFor(async () => (await known(follower))?.entries === 5, 'the new writer to know the five records');
  await follower.core.api.upsert('todos', todo('a')); // an update of a record it had not read yet
  await settled(follower.core, 'the new leader to push what waited');
  assert.deepEqual(await storedTimes(s), { a: 2, b: 1, c: 1, d: 1, e: 1 });
  const after = await stored(profile.databaseName);
  assert.deepEqual(after.records, ['a', 'b', 'c', 'd', 'e']);
  assert.deepEqual(after.outbox, {});
});

test('a writer killed mid-write: what it committed unanswered is not applied again, what it never heard is committed by the next', async () => {
  const s = await servers.start();
  const profile = new Profile(s);
  const leader = await profile.open('leader', 'peer');
  const follower = await profile.open('follower', 'peer');
  await follower.core.api.upsert('todos', todo('answered'));

  // It commits the next write, then dies before its answer leaves.
  leader.peers.dropAnswers();
  const committed = follower.core.api.upsert('todos', todo('committed'));
  await waitFor(async () => (await leader.core.api.get('todos', 'committed')) !== undefined, 'the leader to commit it');
  leader.peers.cut();
  const unheard = follower.core.api.upsertMany('todos', [todo('unheard-1'), todo('unheard-2')]);
  await profile.kill(leader);

  // The follower leads, and commits both waiting writes itself: the first is recognised.
  await Promise.all([committed, unheard]);
  assert.equal((await follower.core.api.diagnostics()).worker.mode, 'leader');
  const ids = ['answered', 'committed', 'unheard-1', 'unheard-2'];
  assert.deepEqual(await stored(profile.databaseName), { records: ids, outbox: onceEach(ids) });
  await follower.core.api.start();
  await settled(follower.core);
  assert.deepEqual(await storedTimes(s), onceEach(ids));
});

test('two deployments on one database: the newer one writes through the older one, then takes over as its writer', async () => {
  const s = await servers.start();
  const profile = new Profile(s);
  const older = await profile.open('older', 'shared');
  await older.core.api.start();
  await settled(older.core);
  const newer = await profile.open('newer', 'shared');
  await newer.core.api.start();
  await older.core.api.upsert('todos', todo('o1'));
  // Concurrent writes of both: one writer orders them.
  await Promise.all([newer.core.api.upsert('todos', todo('n1')), older.core.api.upsert('todos', todo('o2')), newer.core.api.upsert('todos', todo('n2'))]);
  await newer.core.api.upsert('todos', todo('o1'));
  assert.equal((await known(older))?.entries, 4);
  assert.equal(await known(newer), undefined);

  // The older deployment's last tab went: its worker closes, the newer one takes over.
  const during = older.core.close().then(() => newer.core.api.upsert('todos', todo('n3')));
  await Promise.all([during, newer.core.api.upsert('todos', todo('n4'))]);
  await waitFor(async () => (await newer.core.api.diagnostics()).connection.connectionId !== undefined, 'the newer worker to connect');
  await settled(newer.core);
  assert.equal((await known(newer))?.entries, 6);
  assert.deepEqual(await storedTimes(s), { o1: 2, o2: 1, n1: 1, n2: 1, n3: 1, n4: 1 });
  assert.deepEqual((await stored(profile.databaseName)).records, ['n1', 'n2', 'n3', 'n4', 'o1', 'o2']);
});

test('the database taken away during a handover: the writer reloads for the fresh one, and every write reaches the server once', async () => {
  const s = await servers.start();
  const profile = new Profile(s);
  const { leader, follower } = await profile.syncedPair();
  await follower.core.api.upsert('todos', todo('before'));
  await settled(leader.core);
  await leader.core.api.stop();
  await follower.core.api.upsert('todos', todo('unsent'));

  // The database goes (resolves once every runtime let go of it), and the leader with it.
  await deleteDB(profile.databaseName);
  await waitFor(async () => (await leader.core.api.diagnostics()).storage.losses === 1, 'the leader to recover');
  await waitFor(async () => (await known(leader))?.entries === 1, 'the leader to know the fresh database (the re-queued write)');
  const during = follower.core.api.upsert('todos', todo('during'));
  await profile.kill(leader);
  await during;
  await follower.core.api.upsert('todos', todo('after'));
  await follower.core.api.start();
  await settled(follower.core, 'the new leader to re-sync and push');
  assert.deepEqual(await storedTimes(s), onceEach(['before', 'unsent', 'during', 'after']));
  assert.deepEqual((await stored(profile.databaseName)).records, ['after', 'before', 'during', 'unsent']);
});

test('a follower\'s clear goes through the writer too: answered once the follower\'s watchers start over, the writer\'s versions emptied', async () => {
  const s = await servers.start();
  const profile = new Profile(s);
  const leader = await profile.open('leader', 'peer');
  const follower = await profile.open('follower', 'peer');
  const tab = new RecordingTab();
  await follower.core.tab('f').attach(tab);
  await follower.core.tab('f').watch('todos');
  for (const id of ['a', 'b']) await follower.core.api.upsert('todos', todo(id));
  assert.equal((await known(leader))?.entries, 2);

  await follower.core.api.clearLocalData();
  assert.deepEqual(tab.lists.at(-1)?.records, []);
  assert.deepEqual(await stored(profile.databaseName), { records: [], outbox: {} });
  assert.equal((await known(leader))?.entries, 0);
  await follower.core.api.upsert('todos', todo('c'));
  assert.deepEqual(tab.lists.at(-1)?.records.map((r) => r.id), ['c']);
  assert.equal((await known(leader))?.entries, 1);
});
