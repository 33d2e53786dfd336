// Builds every bundle into dist/: the tab facade and the worker runtime as library entries, the
// demo's page and worker, and the server (its process and the library an app embeds); and the
// test build of the demo (dist/e2e-public: the demo plus /test/, whose page and worker take the
// browser tests' knobs from their URLs), which only the test server serves. Prints the facade's
// gzip size against its budget and fails (exit 1) when it is over.
import * as esbuild from 'esbuild';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

// A test may lower the budget (to see the build fail), never raise it.
// 4660 B: 4630 B until a tab's writes also reach an older worker without the `writes` call
// (src/queued-writes.ts, +20 B: a deployment that keeps its worker's URL); 4576 B until the calls stopped racing the worker's loss (src/calls.ts, +46 B: each
// race kept its answer alive while the worker lived); 4480 B until the upserts and deletes of
// one task went in one message (src/queued-writes.ts, +108 B; docs/performance.md §21);
// 4448 B until `lf.batch` (+22 B); 4352 B until the split of connect into link,
// listener and calls (+134 B);
// 3686 B (3.6 KiB) until `repository.query` (+544 B: the query objects, the
// tab's query watches and applyDelta, the window's deltas being applied in the tab), the
// many-writes and patch (+41 B) and the split into calls and page lifecycle (+44 B); 3.5 KiB
// until `clearLocalData` and the restartable worker factory.
const FACADE_BUDGET_BYTES = Math.min(4660, Number(process.env.TABSYNC_FACADE_BUDGET) || Infinity);
const watch = process.argv.includes('--watch');
const quiet = process.argv.includes('--quiet');
// Readable function names for a CPU profile (`npm run bench -- --profile …`).
const minify = !process.argv.includes('--no-minify');
const log = (line) => { if (!quiet) console.log(line); };

rmSync('dist', { recursive: true, force: true });
mkdirSync('dist/public', { recursive: true });

const browser = { bundle: true, format: 'esm', target: 'es2022', platform: 'browser', minify, sourcemap: true, logLevel: 'warning' };

/** The demo's page and worker, into `outdir`; with `knobs`, they take test knobs from their URLs. */
function demo(outdir, knobs) {
  const define = { TEST_KNOBS: String(knobs) };
  return [
    { ...browser, define, entryPoints: { app: 'public/app.ts' }, outdir },
    { ...browser, define, format: 'iife', entryPoints: { 'sync-worker': 'public/sync-worker.ts' }, outdir },
  ];
}

const builds = [
  // Library entries an app imports: '<package>' (the facade), '<package>/worker' and
  // '<package>/react' (hooks; react is the app's, an optional peer, never bundled).
  { ...browser, entryPoints: { index: 'src/index.ts', worker: 'worker/index.ts', react: 'react/index.ts' }, outdir: 'dist/lib', external: ['comlink', 'idb', 'nanoid', 'valibot', 'react'] },
  // The demo: its page, and its worker bundle (one such bundle per app). The worker is a classic
  // script (iife) so `new SharedWorker(url)` works in every engine without `{ type: 'module' }`.
  ...demo('dist/public', false),
  // The same with the tests' knobs, at /test/ of the test build.
  ...demo('dist/e2e-public/test', true),
  // The React test app at /react/ of the test build, on the test worker. React's development
  // build: StrictMode mounts, unmounts and mounts again only there, which the test is about.
  { ...browser, define: { 'process.env.NODE_ENV': '"development"' }, entryPoints: { app: 'test-e2e/react-app/app.ts' }, outdir: 'dist/e2e-public/react' },
  // The storage contract in the browser's IndexedDB at /storage-contract/ of the test build: the
  // contract's node:test and node:assert/strict are the page's small stand-ins.
  { ...browser, alias: { 'node:test': './test-e2e/storage-contract/node-test.ts', 'node:assert/strict': './test-e2e/storage-contract/assert.ts' }, entryPoints: { runner: 'test-e2e/storage-contract/runner.ts' }, outdir: 'dist/e2e-public/storage-contract' },
  // The server: the process (main) and the library an app embeds (index), sharing their code in
  // chunks; Node, dependencies left to node_modules.
  { entryPoints: { main: 'server/main.ts', index: 'server/create-sync-server.ts' }, outdir: 'dist/server', chunkNames: 'chunks/[name]-[hash]', splitting: true, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', sourcemap: true, logLevel: 'warning' },
];

for (const options of builds) {
  if (watch) await (await esbuild.context(options)).watch();
  else await esbuild.build(options);
}
cpSync('public', 'dist/public', { recursive: true, filter: (src) => !src.endsWith('.ts') && !src.endsWith('tsconfig.json') });
// The test build serves the demo as it is at `/`, and its knobbed twin at /test/.
cpSync('dist/public', 'dist/e2e-public', { recursive: true });
cpSync('test-e2e/react-app/index.html', 'dist/e2e-public/react/index.html');
cpSync('test-e2e/storage-contract/index.html', 'dist/e2e-public/storage-contract/index.html');
writeFileSync('dist/e2e-public/test/index.html', readFileSync('public/index.html', 'utf8').replace('src="/app.js"', 'src="/test/app.js"'));

// What an app's tab bundles for `connect` + a repository: the facade with comlink, minified.
const facade = await esbuild.build({ ...browser, minify: true, entryPoints: ['src/index.ts'], write: false, sourcemap: false, metafile: false });
const facadeGzip = gzipSync(facade.outputFiles[0].contents, { level: 9 }).length;
const worker = gzipSync(readFileSync('dist/public/sync-worker.js'), { level: 9 }).length;
const facadeLine = `facade (connect + repository, with comlink): ${facadeGzip} B gzip (budget ${FACADE_BUDGET_BYTES} B)`;
// Over budget is a failed build, said even with --quiet; --watch keeps watching.
if (facadeGzip > FACADE_BUDGET_BYTES) {
  console.error(`${facadeLine}: OVER BUDGET by ${facadeGzip - FACADE_BUDGET_BYTES} B`);
  if (!watch) process.exitCode = 1;
} else log(facadeLine);
log(`demo worker bundle: ${worker} B gzip`);
if (watch) log('watching for changes…');
