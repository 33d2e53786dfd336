/**
 * The two tarballs as an app gets them, walking the README's "Using it in an app": packed once,
 * installed into a fresh project per bundler recipe (test/helpers/packaging-project.ts). The Vite
 * project: the packages' contents, a strict compile under Vite's TypeScript template, a Node
 * program attaching `createSyncServer` to its own HTTP server, `vite build` served by the
 * installed `tabsync-server` bin, and the Vite dev server proxying to the bin. The webpack 5 and
 * esbuild projects: `npm run build`, served by the bin. Every build runs in Chromium.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, afterEach, before, describe, test } from 'node:test';
import { chromium, type Browser, type BrowserContext } from '@playwright/test';
import { CHROMIUM_LAUNCH } from '../test-e2e/engines';
import { reachableDeclarations } from '../scripts/packaging/declarations';
import { endSharedWorkers, navigationType, open, sees, sharedWorkerUrls, twoTabsSeeEachOther, workerId, write } from './helpers/packaging-browser';
import { installFixture, packTarballs, type PackagingProject, type Tarballs } from './helpers/packaging-project';
import type { SpawnedServer } from './helpers/server';

interface Manifest {
  type: string;
  exports: Record<string, { types: string; default: string }>;
  files: string[];
  bin?: Record<string, string>;
  dependencies: Record<string, string>;
}

/** The part of the installed Vite's API the dev-mode test uses. */
interface ViteDevServer {
  listen(): Promise<unknown>;
  close(): Promise<void>;
  resolvedUrls: { local: string[] } | null;
}

/** The Vite dev server of the installed vite on the project's vite.config.ts, its proxy aimed at `syncServer`. */
async function startViteDev(project: PackagingProject, syncServer: string): Promise<{ url: string; close(): Promise<void> }> {
  const vite = (await import(pathToFileURL(project.installed('vite', 'dist/node/index.js')).href)) as {
    createServer(config: object): Promise<ViteDevServer>;
  };
  process.env['SYNC_SERVER'] = syncServer; // read by the fixture's vite.config.ts
  const dev = await vite.createServer({ root: project.app, logLevel: 'warn', clearScreen: false, server: { host: '127.0.0.1', port: 0 } });
  delete process.env['SYNC_SERVER'];
  await dev.listen();
  const url = dev.resolvedUrls?.local[0];
  assert.ok(url, 'the dev server names its URL');
  return { url: url.replace(/\/$/, ''), close: () => dev.close() };
}

describe('the packed tarballs in fresh projects, one per bundler recipe', { timeout: 600_000 }, () => {
  let tarballs: Tarballs;
  let browser: Browser;
  /** The test's browser profiles, closed after it. */
  const profiles: BrowserContext[] = [];
  const newProfile = async () => {
    profiles.push(await browser.newContext());
    return profiles.at(-1)!;
  };

  before(async () => {
    tarballs = await packTarballs();
    browser = await chromium.launch(CHROMIUM_LAUNCH);
  }, { timeout: 120_000 });
  afterEach(async () => {
    for (const profile of profiles.splice(0)) await profile.close();
  });
  after(async () => {
    await browser?.close();
    tarballs?.dispose();
  });

  describe('Vite + TypeScript', () => {
    let project: PackagingProject;
    const manifest = (name: string) => JSON.parse(readFileSync(project.installed(name, 'package.json'), 'utf8')) as Manifest;

    before(async () => {
      project = await installFixture(tarballs, 'packaging-vite', ['vite', 'typescript', 'ws', '@types/node', '@types/ws']);
    }, { timeout: 300_000 });

    test('each package ships ESM, a source map and declarations for every entry, a files list and the LICENSE', () => {
      for (const name of ['tabsync', 'tabsync-server']) {
        const { type, exports, files } = manifest(name);
        assert.equal(type, 'module');
        assert.deepEqual(files, ['dist']);
        assert.ok(existsSync(project.installed(name, 'LICENSE')), `${name} has a LICENSE`);
        for (const [subpath, entry] of Object.entries(exports)) {
          for (const file of [entry.default, `${entry.default}.map`, entry.types]) assert.ok(existsSync(project.installed(name, file)), `${name} ${subpath}: ${file}`);
          assert.match(readFileSync(project.installed(name, entry.default), 'utf8'), /\bexport\s*\{[^}]+\}/, `${name} ${subpath} is an ES module`);
        }
      }
      assert.deepEqual(Object.keys(manifest('tabsync').exports), ['.', './worker', './react']);
      // Every declaration file shipped is one an entry's types import, and each import finds its file.
      for (const name of ['tabsync', 'tabsync-server']) {
        const types = project.installed(name, 'dist/types');
        const shipped = readdirSync(types, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.d.ts'));
        const reachable = reachableDeclarations(Object.values(manifest(name).exports).map((entry) => project.installed(name, entry.types)));
        assert.deepEqual([...reachable].map((file) => relative(types, file)).sort(), shipped.sort(), name);
      }
      assert.deepEqual(Object.keys(manifest('tabsync').dependencies).sort(), ['comlink', 'idb', 'nanoid', 'valibot']);
      assert.deepEqual(manifest('tabsync-server').bin, { 'tabsync-server': 'dist/main.js' });
    });

    // Each fixture holds `@ts-expect-error` lines: they compile only if the packages' types are real.
    test('the app compiles strictly under Vite\'s TypeScript template settings (TypeScript from the registry)', async () => {
      await project.exec(project.installed('.bin', 'tsc'), ['-p', 'tsconfig.json']);
    });

    test('a Node program, compiled strictly (nodenext), attaches createSyncServer to its own HTTP server, pushes and pulls over ws', async () => {
      await project.exec(project.installed('.bin', 'tsc'), ['-p', 'tsconfig.node.json']);
      const seen = JSON.parse(await project.exec(process.execPath, ['build/embed.js', join(project.app, 'embed.db')])) as Record<string, unknown>;
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

    describe('vite build, served by the installed tabsync-server bin', () => {
      let server: SpawnedServer;

      before(async () => {
        await project.exec('npm', ['run', '--silent', 'build', '--', '--logLevel', 'warn']);
        server = await project.serve('dist');
      }, { timeout: 120_000 });
      after(() => server?.stop());

      const activeConnections = async () => ((await (await fetch(`${server.url}/api/health`)).json()) as { activeConnections: number }).activeConnections;

      test('two tabs of one profile share one socket and see each other; another profile sees them too', async () => {
        await twoTabsSeeEachOther(await newProfile(), server.url);
        assert.equal(await activeConnections(), 1);

        const other = await open(await newProfile(), server.url);
        await sees(other, 'from tab 1');
        await sees(other, 'from tab 2');
        assert.equal(await activeConnections(), 2);
      });

      test('a worker ended over CDP is started again through the factory: the next write resolves and reaches every tab and profile', async () => {
        const profile = await newProfile();
        const [tab1, tab2] = [await open(profile, server.url), await open(profile, server.url)];
        const other = await open(await newProfile(), server.url);
        const before = await workerId(tab1);

        assert.equal(await endSharedWorkers(browser), 2);
        await write(tab1, 'c', 'after the worker died');
        for (const page of [tab2, other]) await sees(page, 'after the worker died');
        const after = await workerId(tab1);
        assert.notEqual(after, before);
        assert.equal(await workerId(tab2), after);
      });

      test("an ES-module worker started from its URL with workerType: 'module' syncs with the rest", async () => {
        const page = await open(await newProfile(), `${server.url}/url.html`);
        await write(page, 'd', 'from a module worker');
        await sees(await open(await newProfile(), server.url), 'from a module worker');
      });
    });

    describe("the Vite dev server, its server.proxy passing /sync (ws) and /api to the bin", () => {
      let server: SpawnedServer;
      let dev: Awaited<ReturnType<typeof startViteDev>>;

      before(async () => {
        server = await project.serve();
        dev = await startViteDev(project, server.url);
      }, { timeout: 120_000 });
      after(async () => {
        await dev?.close();
        await server?.stop();
      });

      test('two tabs see each other through one worker, an ES module Vite serves from source (a classic worker could not run it)', async () => {
        const tabs = await twoTabsSeeEachOther(await newProfile(), dev.url);
        // The worker's dependencies were pre-bundled at start (optimizeDeps.entries), so no tab was reloaded.
        for (const tab of tabs) assert.equal(await navigationType(tab), 'navigate');
        const workers = (await sharedWorkerUrls(browser)).filter((url) => url.startsWith(dev.url));
        assert.equal(workers.length, 1, workers.join(', '));
        assert.match(await (await fetch(workers[0]!)).text(), /^import /m, 'the worker script has static imports');
        assert.equal(((await (await fetch(`${dev.url}/api/health`)).json()) as { activeConnections: number }).activeConnections, 1);
      });

      test("url.html's worker, started from its URL with workerType: 'module', syncs with the factory's", async () => {
        const page = await open(await newProfile(), `${dev.url}/url.html`);
        await write(page, 'e', 'from the dev module worker');
        await sees(await open(await newProfile(), dev.url), 'from the dev module worker');
      });
    });
  });

  const recipes = [
    { bundler: 'webpack 5 (esbuild-loader for the TypeScript)', fixture: 'packaging-webpack', packages: ['webpack', 'webpack-cli', 'esbuild-loader'] },
    { bundler: 'esbuild (the worker an entry point of its own)', fixture: 'packaging-esbuild', packages: ['esbuild'] },
  ];
  for (const { bundler, fixture, packages } of recipes) {
    describe(`${bundler}: npm run build, served by the installed tabsync-server bin`, () => {
      let server: SpawnedServer;

      before(async () => {
        const project = await installFixture(tarballs, fixture, packages);
        await project.exec('npm', ['run', '--silent', 'build']);
        server = await project.serve('www');
      }, { timeout: 300_000 });
      after(() => server?.stop());

      test('two tabs of one profile see each other through one worker; another profile sees them too', async () => {
        await twoTabsSeeEachOther(await newProfile(), server.url);
        await sees(await open(await newProfile(), server.url), 'from tab 2');
      });
    });
  }
});
