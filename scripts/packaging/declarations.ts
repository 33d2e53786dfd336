/**
 * `.d.ts` for a package's entries: tsc emits the declarations of each entry's source (and what it
 * imports) under the entry's own project settings, then every relative import in them gets the
 * `.js` file it names, so they resolve under `moduleResolution: nodenext` as well as `bundler`.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Entry } from './packages';

const run = promisify(execFile);
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/** The entries' tsc runs go side by side (each is seconds of type checking); a file two of them
 *  emit (protocol/) comes out the same from both. */
export async function emitDeclarations(repo: string, entries: readonly Entry[], outDir: string): Promise<void> {
  await Promise.all(entries.map((entry) => emitEntry(repo, entry, outDir)));
  for (const file of declarationFiles(outDir)) {
    writeFileSync(file, withJsSpecifiers(readFileSync(file, 'utf8'), dirname(file)));
  }
  // tsc emits every module the entries' programs hold; the package ships the ones their types name.
  const needed = reachableDeclarations(entries.map((entry) => join(outDir, entry.source.replace(/\.ts$/, '.d.ts'))));
  for (const file of declarationFiles(outDir)) if (!needed.has(file)) rmSync(file);
}

/** The declaration files `roots` import, directly or through each other. */
export function reachableDeclarations(roots: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const pending = [...roots];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    for (const specifier of relativeImports(readFileSync(file, 'utf8'))) pending.push(resolve(dirname(file), specifier.replace(/\.js$/, '.d.ts')));
  }
  return seen;
}

/** One entry's declarations: a project extending the entry's own, emitting from its source alone. */
async function emitEntry(repo: string, entry: Entry, outDir: string): Promise<void> {
  // Inside the repo: tsc looks for the projects' `types` (node) in node_modules above the tsconfig.
  const scratch = mkdtempSync(join(repo, 'dist', '.declarations-'));
  try {
    const project = join(scratch, 'tsconfig.json');
    writeFileSync(project, JSON.stringify({
      extends: resolve(repo, entry.project),
      compilerOptions: { noEmit: false, declaration: true, emitDeclarationOnly: true, outDir, rootDir: repo },
      files: [resolve(repo, entry.source)],
      include: [],
    }));
    await run(process.execPath, [tsc, '-p', project]).catch((error: { stdout?: string }) => {
      throw new Error(`declarations of ${entry.source} failed:\n${error.stdout ?? String(error)}`);
    });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function declarationFiles(directory: string): string[] {
  return readdirSync(directory, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.d.ts'))
    .map((name) => join(directory, name));
}

/** `from '…'`, `import('…')` with a relative specifier. */
const RELATIVE_IMPORT = /(\bfrom\s*|\bimport\s*\(\s*)(['"])(\.\.?\/[^'"]*)\2/g;

export function relativeImports(text: string): string[] {
  return [...text.matchAll(RELATIVE_IMPORT)].map((match) => match[3]!);
}

/** `from './client'` → `from './client.js'`, `'../protocol'` → `'../protocol/index.js'`. */
export function withJsSpecifiers(text: string, directory: string): string {
  return text.replace(RELATIVE_IMPORT, (_match, lead: string, quote: string, specifier: string) => {
    const target = resolve(directory, specifier);
    if (existsSync(`${target}.d.ts`)) return `${lead}${quote}${specifier}.js${quote}`;
    if (existsSync(join(target, 'index.d.ts'))) return `${lead}${quote}${specifier}/index.js${quote}`;
    throw new Error(`${directory}: "${specifier}" names no emitted declaration file`);
  });
}
