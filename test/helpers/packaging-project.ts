/**
 * Fresh app projects in a temp dir, built only from the packed tarballs: `packTarballs` runs
 * `npm run pack` once, `installFixture` lays out one fixture app (test/fixtures/packaging-common,
 * then test/fixtures/<fixture> over it) and npm installs both tarballs with the packages that
 * app's recipe names, as the registry serves them today.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { spawnServer, type SpawnedServer } from './server';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '../..');
const fixtures = join(repo, 'test/fixtures');

export interface Tarballs {
  /** The temp dir: tarballs/, one folder per installed fixture, npm's cache. */
  root: string;
  version: string;
  dispose(): void;
}

export interface PackagingProject {
  /** The temp dir the tarballs are in. */
  root: string;
  /** The installed app project. */
  app: string;
  /** Runs a program (an installed bin, npm, node) in the app; resolves with its stdout. */
  exec(file: string, args: readonly string[]): Promise<string>;
  /** The path of an installed package's file, or of its folder. */
  installed(name: string, path?: string): string;
  /** Starts the installed `tabsync-server` bin on 127.0.0.1, its SQLite file in the app, serving `publicDir` of the app if given. */
  serve(publicDir?: string): Promise<SpawnedServer>;
}

export async function packTarballs(): Promise<Tarballs> {
  const root = mkdtempSync(join(tmpdir(), 'tabsync-packaging-'));
  const { version } = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string };
  const dispose = () => rmSync(root, { recursive: true, force: true });
  try {
    await run('npm', ['run', '--silent', 'pack', '--', join(root, 'tarballs')], { cwd: repo });
  } catch (error) {
    dispose();
    throw error;
  }
  return { root, version, dispose };
}

/** Copies the fixture into `<root>/<fixture>` and installs the tarballs, valibot and `packages` there. */
export async function installFixture(tarballs: Tarballs, fixture: string, packages: readonly string[]): Promise<PackagingProject> {
  const app = join(tarballs.root, fixture);
  cpSync(join(fixtures, 'packaging-common'), app, { recursive: true });
  cpSync(join(fixtures, fixture), app, { recursive: true });
  const exec = async (file: string, args: readonly string[]) => (await run(file, args, { cwd: app, env: npmEnvironment(tarballs.root) })).stdout;
  const installed = (name: string, path = '') => join(app, 'node_modules', name, path);
  await exec('npm', ['install', ...installArguments(tarballs, packages)]);
  const serve = (publicDir?: string) =>
    spawnServer(
      { DATABASE_URL: join(app, 'data/sync.db'), ...(publicDir === undefined ? {} : { PUBLIC_DIR: join(app, publicDir) }) },
      [installed('.bin', 'tabsync-server')],
    );
  return { root: tarballs.root, app, exec, installed, serve };
}

/** npm's cache in the temp dir: a run reuses nothing from earlier runs, and its later installs reuse the first's downloads. */
function npmEnvironment(root: string): NodeJS.ProcessEnv {
  return { ...process.env, npm_config_cache: join(root, 'npm-cache'), npm_config_update_notifier: 'false' };
}

function installArguments({ root, version }: Tarballs, packages: readonly string[]): string[] {
  return [
    '--no-audit',
    '--no-fund',
    join(root, 'tarballs', `tabsync-${version}.tgz`),
    join(root, 'tarballs', `tabsync-server-${version}.tgz`),
    // better-sqlite3's prebuilt binary is a download this machine cannot make, and compiling it
    // takes minutes: the app gets the copy this repo's own `npm install` built, linked, and
    // (therefore) no install scripts run, which would rebuild it in place.
    join(repo, 'node_modules/better-sqlite3'),
    '--ignore-scripts',
    'valibot',
    ...packages,
  ];
}
