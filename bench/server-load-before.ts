/**
 * `bench:server -- --before <commit>`: the server of another commit, run right before this one on
 * the same load, so that a before/after pair comes from the same minutes of a shared machine.
 * Its server/ and protocol/ are extracted (git archive) under node_modules/.cache, inside this
 * checkout, where they find this checkout's dependencies.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The entry module of `commit`'s server, extracted once per commit. */
export function serverOfCommit(commit: string): string {
  const hash = execFileSync('git', ['rev-parse', '--verify', `${commit}^{commit}`], { encoding: 'utf8' }).trim();
  const dir = join('node_modules', '.cache', 'tabsync-bench-before', hash);
  const entry = join(dir, 'server', 'main.ts');
  if (existsSync(join(dir, 'package.json'))) return entry;
  mkdirSync(dir, { recursive: true });
  const archive = execFileSync('git', ['archive', hash, 'server', 'protocol']);
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  // ES modules, as in this checkout (a folder under node_modules is CommonJS by default).
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  return entry;
}
