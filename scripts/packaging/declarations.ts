/**
 * `.d.ts` for a package's entries: tsc emits the declarations of each entry's source (and what it
 * imports) under the entry's own project settings, then every relative import in them gets the
 * `.js` file it names, so they resolve under `moduleResolution: nodenext` as well as `bundler`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type { Entry } from './packages';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

export function emitDeclarations(repo: string, entries: readonly Entry[], outDir: string): void {
  // Inside the repo: tsc looks for the projects' `types` (node) in node_modules above the tsconfig.
  const scratch = mkdtempSync(join(repo, 'dist', '.declarations-'));
  try {
    for (const entry of entries) emitEntry(repo, entry, outDir, scratch);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  for (const file of declarationFiles(outDir)) {
    writeFileSync(file, withJsSpecifiers(readFileSync(file, 'utf8'), dirname(file)));
  }
}

/** One entry's declarations: a project extending the entry's own, emitting from its source alone. */
function emitEntry(repo: string, entry: Entry, outDir: string, scratch: string): void {
  const project = join(scratch, 'tsconfig.json');
  writeFileSync(project, JSON.stringify({
    extends: resolve(repo, entry.project),
    compilerOptions: { noEmit: false, declaration: true, emitDeclarationOnly: true, outDir, rootDir: repo },
    files: [resolve(repo, entry.source)],
    include: [],
  }));
  execFileSync(process.execPath, [tsc, '-p', project], { stdio: 'inherit' });
}

function declarationFiles(directory: string): string[] {
  return readdirSync(directory, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.d.ts'))
    .map((name) => join(directory, name));
}

/** `from './client'` → `from './client.js'`, `'../protocol'` → `'../protocol/index.js'`. */
export function withJsSpecifiers(text: string, directory: string): string {
  return text.replace(/(\bfrom\s*|\bimport\s*\(\s*)(['"])(\.\.?\/[^'"]*)\2/g, (_match, lead: string, quote: string, specifier: string) => {
    const target = resolve(directory, specifier);
    if (existsSync(`${target}.d.ts`)) return `${lead}${quote}${specifier}.js${quote}`;
    if (existsSync(join(target, 'index.d.ts'))) return `${lead}${quote}${specifier}/index.js${quote}`;
    throw new Error(`${directory}: "${specifier}" names no emitted declaration file`);
  });
}
