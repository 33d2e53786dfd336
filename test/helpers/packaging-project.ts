/**
 * A fresh app project in a temp dir, built only from the packed tarballs: `npm run pack` writes
 * them, npm installs them with valibot, ws, vite and typescript as the registry serves them today,
 * then the project compiles strictly and `vite build`s the fixture app (test/fixtures/packaging-app).
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '../..');

export interface PackagingProject {
  /** The temp dir: tarballs/, app/, npm's cache, the databases. */
  root: string;
  /** The installed app project. */
  app: string;
  version: string;
  /** Runs one of the project's installed bins (tsc, vite) or a node program in it; resolves with its stdout. */
  exec(file: string, args: readonly string[]): Promise<string>;
  dispose(): void;
}

export async function createPackagingProject(): Promise<PackagingProject> {
  const root = mkdtempSync(join(tmpdir(), 'tabsync-packaging-'));
  const app = join(root, 'app');
  const { version } = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string };
  const exec = async (file: string, args: readonly string[]) => (await run(file, args, { cwd: app, env: npmEnvironment(root) })).stdout;
  const project: PackagingProject = { root, app, version, exec, dispose: () => rmSync(root, { recursive: true, force: true }) };
  try {
    await run('npm', ['run', '--silent', 'pack', '--', join(root, 'tarballs')], { cwd: repo });
    cpSync(join(repo, 'test/fixtures/packaging-app'), app, { recursive: true });
    await exec('npm', ['install', ...installArguments(root, version)]);
    return project;
  } catch (error) {
    project.dispose();
    throw error;
  }
}

/** npm's cache in the temp dir: a run leaves nothing behind and reuses nothing from earlier runs. */
function npmEnvironment(root: string): NodeJS.ProcessEnv {
  return { ...process.env, npm_config_cache: join(root, 'npm-cache'), npm_config_update_notifier: 'false' };
}

function installArguments(root: string, version: string): string[] {
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
    'ws',
    'vite',
    'typescript',
    '@types/node',
    '@types/ws',
  ];
}
