/**
 * The two tarballs as an app gets them (test/helpers/packaging-project.ts): their contents, a
 * strict compile under Vite's TypeScript template, `vite build` of a page and its SharedWorker,
 * the installed `tabsync-server` bin serving that build to Chromium, and a Node program that
 * attaches `createSyncServer` to its own HTTP server.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { CHROMIUM_LAUNCH } from '../test-e2e/engines';
import { reachableDeclarations } from '../scripts/packaging/declarations';
import { createPackagingProject, type PackagingProject } from './helpers/packaging-project';
import { spawnServer } from './helpers/server';

/** What the fixture's page exposes as `window.app`. */
interface Driven {
  app?: {
    write(id: string, text: string): Promise<void>;
    notes(): ReadonlyArray<{ id: string; text: string }>;
    connected(): boolean;
    workerId(): Promise<string>;
  };
}

interface Manifest {
  type: string;
  exports: Record<string, { types: string; default: string }>;
  files: string[];
  bin?: Record<string, string>;
  dependencies: Record<string, string>;
}

/** Ends every SharedWorker of the browser (one per profile) through the DevTools protocol, as a crash would; returns how many. */
async function endSharedWorkers(browser: Browser): Promise<number> {
  const cdp = await browser.newBrowserCDPSession();
  await cdp.send('Target.setDiscoverTargets', { discover: true });
  const workers = (await cdp.send('Target.getTargets')).targetInfos.filter((target) => target.type === 'shared_worker');
  for (const { targetId } of workers) await cdp.send('Target.closeTarget', { targetId });
  await cdp.detach();
  return workers.length;
}

describe('the packed tarballs in a fresh Vite + TypeScript project', { timeout: 300_000 }, () => {
  let project: PackagingProject;
  const installed = (name: string, path = '') => join(project.app, 'node_modules', name, path);
  const manifest = (name: string) => JSON.parse(readFileSync(installed(name, 'package.json'), 'utf8')) as Manifest;

  before(async () => {
    project = await createPackagingProject();
  }, { timeout: 300_000 });
  after(() => project?.dispose());

  test('each package ships ESM, a source map and declarations for every entry, a files list and the LICENSE', () => {
    for (const name of ['tabsync', 'tabsync-server']) {
      const { type, exports, files } = manifest(name);
      assert.equal(type, 'module');
      assert.deepEqual(files, ['dist']);
      assert.ok(existsSync(installed(name, 'LICENSE')), `${name} has a LICENSE`);
      for (const [subpath, entry] of Object.entries(exports)) {
        for (const file of [entry.default, `${entry.default}.map`, entry.types]) assert.ok(existsSync(installed(name, file)), `${name} ${subpath}: ${file}`);
        assert.match(readFileSync(installed(name, entry.default), 'utf8'), /\bexport\s*\{[^}]+\}/, `${name} ${subpath} is an ES module`);
      }
    }
    assert.deepEqual(Object.keys(manifest('tabsync').exports), ['.', './worker']);
    // Every declaration file shipped is one an entry's types import, and each import finds its file.
    for (const name of ['tabsync', 'tabsync-server']) {
      const shipped = readdirSync(installed(name, 'dist/types'), { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.d.ts'));
      const reachable = reachableDeclarations(Object.values(manifest(name).exports).map((entry) => installed(name, entry.types)));
      assert.deepEqual([...reachable].map((file) => relative(installed(name, 'dist/types'), file)).sort(), shipped.sort(), name);
    }
    assert.deepEqual(Object.keys(manifest('tabsync').dependencies).sort(), ['comlink', 'idb', 'nanoid', 'valibot']);
    assert.deepEqual(manifest('tabsync-server').bin, { 'tabsync-server': 'dist/main.js' });
  });

  // Each fixture holds `@ts-expect-error` lines: they compile only if the packages' types are real.
  test('the app compiles strictly under Vite\'s TypeScript template settings (TypeScript from the registry)', async () => {
    await project.exec(installed('.bin', 'tsc'), ['-p', 'tsconfig.json']);
  });

  test('a Node program, compiled strictly (nodenext), attaches createSyncServer to its own HTTP server, pushes and pulls over ws', async () => {
    await project.exec(installed('.bin', 'tsc'), ['-p', 'tsconfig.node.json']);
    const seen = JSON.parse(await project.exec(process.execPath, ['build/embed.js', join(project.root, 'embed.db')])) as Record<string, unknown>;
    assert.deepEqual(seen, {
      authenticated: true,
      acked: ['embed-1'],
      pulled: [{ id: 'n1', text: 'from node' }],
      rest: [{ id: 'n1', text: 'from node' }],
      appRoot: 'the app itself',
      appApi: 'the app itself',
      otherUpgrade: 'Unexpected server response: 404',
    });
  });

  describe('the vite build served by the installed tabsync-server bin, in Chromium', () => {
    let browser: Browser;
    let server: Awaited<ReturnType<typeof spawnServer>>;
    /** The test's browser profiles, closed after it. */
    const profiles: BrowserContext[] = [];
    const newProfile = async () => {
      profiles.push(await browser.newContext());
      return profiles.at(-1)!;
    };

    before(async () => {
      await project.exec(installed('.bin', 'vite'), ['build', '--logLevel', 'warn']);
      server = await spawnServer({ PUBLIC_DIR: join(project.app, 'dist'), DATABASE_URL: join(project.root, 'data/sync.db') }, [installed('.bin', 'tabsync-server')]);
      browser = await chromium.launch(CHROMIUM_LAUNCH);
    }, { timeout: 120_000 });
    afterEach(async () => {
      for (const profile of profiles.splice(0)) await profile.close();
    });
    after(async () => {
      await browser?.close();
      await server?.stop();
    });

    const activeConnections = async () => ((await (await fetch(`${server.url}/api/health`)).json()) as { activeConnections: number }).activeConnections;
    const open = async (context: BrowserContext, path = '/') => {
      const page = await context.newPage();
      await page.goto(server.url + path);
      await page.waitForFunction(() => (window as Driven).app?.connected() === true);
      return page;
    };
    const write = (page: Page, id: string, text: string) => page.evaluate(([i, t]) => (window as Driven).app!.write(i, t), [id, text] as const);
    const sees = (page: Page, text: string) => page.waitForFunction((t) => (window as Driven).app?.notes().some((note) => note.text === t), text);

    const workerId = (page: Page) => page.evaluate(() => (window as Driven).app!.workerId());

    test('two tabs of one profile share one socket and see each other; another profile sees them too', async () => {
      const profile = await newProfile();
      const [tab1, tab2] = [await open(profile), await open(profile)];
      assert.equal(await activeConnections(), 1);

      await write(tab1, 'a', 'from tab 1');
      await sees(tab2, 'from tab 1');
      await write(tab2, 'b', 'from tab 2');
      await sees(tab1, 'from tab 2');

      const other = await open(await newProfile());
      await sees(other, 'from tab 1');
      await sees(other, 'from tab 2');
      assert.equal(await activeConnections(), 2);
    });

    test('a worker ended over CDP is started again through the factory: the next write resolves and reaches every tab and profile', async () => {
      const profile = await newProfile();
      const [tab1, tab2] = [await open(profile), await open(profile)];
      const other = await open(await newProfile());
      const before = await workerId(tab1);

      assert.equal(await endSharedWorkers(browser), 2);
      await write(tab1, 'c', 'after the worker died');
      for (const page of [tab2, other]) await sees(page, 'after the worker died');
      const after = await workerId(tab1);
      assert.notEqual(after, before);
      assert.equal(await workerId(tab2), after);
    });

    test("an ES-module worker started from its URL with workerType: 'module' syncs with the rest", async () => {
      const page = await open(await newProfile(), '/url.html');
      await write(page, 'd', 'from a module worker');
      await sees(await open(await newProfile()), 'from a module worker');
    });
  });
});
