/**
 * `npm run pack -- DIR`: builds (esbuild.mjs, then the declarations) and writes
 * `tabsync-<version>.tgz` and `tabsync-server-<version>.tgz` into DIR. Each package is staged in
 * dist/packages/<name> from the build, its declarations, a generated package.json and the LICENSE.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { emitDeclarations } from './packaging/declarations';
import { manifestOf, PACKAGES, type PackageSpec } from './packaging/packages';

const repo = resolve(import.meta.dirname, '..');

async function main(): Promise<void> {
  const target = process.argv[2];
  if (!target) throw new Error('usage: npm run pack -- DIR');
  // `npm run` starts scripts in the repo root; DIR is meant from where the command was typed.
  const destination = resolve(process.env.INIT_CWD ?? process.cwd(), target);
  mkdirSync(destination, { recursive: true });
  execFileSync(process.execPath, ['esbuild.mjs', '--quiet'], { cwd: repo, stdio: 'inherit' });
  const root = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
  const staged = await Promise.all(PACKAGES.map((spec) => stage(spec, root)));
  for (const [index, spec] of PACKAGES.entries()) {
    execFileSync('npm', ['pack', '--silent', '--pack-destination', destination], { cwd: staged[index], stdio: ['ignore', 'ignore', 'inherit'] });
    console.log(join(destination, `${spec.name}-${root.version}.tgz`));
  }
}

/** Lays out one package in dist/packages/<name>; returns its folder. */
async function stage(spec: PackageSpec, root: Parameters<typeof manifestOf>[1]): Promise<string> {
  const folder = join(repo, 'dist/packages', spec.name);
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder, { recursive: true });
  cpSync(join(repo, spec.built), join(folder, 'dist'), { recursive: true });
  await emitDeclarations(repo, Object.values(spec.entries), join(folder, 'dist/types'));
  copyFileSync(join(repo, 'LICENSE'), join(folder, 'LICENSE'));
  writeFileSync(join(folder, 'package.json'), JSON.stringify(manifestOf(spec, root), null, 2) + '\n');
  return folder;
}

await main();
