/**
 * The two packages an app installs, as the pack script builds them from this one repository:
 * which built files each ships, its entries and their declarations, its dependencies.
 */

export interface Entry {
  /** The built file the entry's `default` condition names, relative to the package's `dist/`. */
  js: string;
  /** The source file whose declarations are the entry's `types`. */
  source: string;
  /** The TypeScript project whose settings (lib, types) that source compiles under. */
  project: string;
}

export interface PackageSpec {
  name: string;
  description: string;
  /** The build output (of esbuild.mjs) copied into the package's `dist/`. */
  built: string;
  /** `exports` subpath → entry. */
  entries: Record<string, Entry>;
  bin?: Record<string, string>;
  /** Names only: each gets the root package.json's range, so the two never drift apart. */
  dependencies: readonly string[];
  /** Peer dependencies an entry needs and the app brings, or not if it does not use that entry:
   *  name → range (the versions the entry works with, wider than the one the repo tests with). */
  optionalPeers?: Record<string, string>;
}

export const PACKAGES: readonly PackageSpec[] = [
  {
    name: 'tabsync',
    description: 'Local-first sync for multi-tab web apps: the tab facade and the SharedWorker runtime.',
    built: 'dist/lib',
    entries: {
      '.': { js: 'index.js', source: 'src/index.ts', project: 'src/tsconfig.json' },
      './worker': { js: 'worker.js', source: 'worker/index.ts', project: 'worker/tsconfig.json' },
      './react': { js: 'react.js', source: 'react/index.ts', project: 'react/tsconfig.json' },
    },
    dependencies: ['comlink', 'idb', 'nanoid', 'valibot'],
    // tabsync/react's hooks; useSyncExternalStore is React 18's.
    optionalPeers: { react: '^18.0.0 || ^19.0.0' },
  },
  {
    name: 'tabsync-server',
    description: 'The tabsync sync server: run it (bin tabsync-server) or attach it to your own Node HTTP server.',
    built: 'dist/server',
    entries: {
      '.': { js: 'index.js', source: 'server/create-sync-server.ts', project: 'tsconfig.json' },
    },
    bin: { 'tabsync-server': 'dist/main.js' },
    dependencies: ['better-sqlite3', 'jose', 'pg', 'valibot', 'ws'],
  },
];

/** Where an entry's declaration file lands inside the package. */
export function typesPath(entry: Entry): string {
  return `dist/types/${entry.source.replace(/\.ts$/, '.d.ts')}`;
}

interface RootManifest {
  version: string;
  license: string;
  engines?: Record<string, string>;
  dependencies: Record<string, string>;
}

/** The package.json of one package. */
export function manifestOf(spec: PackageSpec, root: RootManifest): Record<string, unknown> {
  const exports = Object.fromEntries(
    Object.entries(spec.entries).map(([subpath, entry]) => [subpath, { types: `./${typesPath(entry)}`, default: `./dist/${entry.js}` }]),
  );
  const dependencies = Object.fromEntries(
    spec.dependencies.map((name) => {
      const range = root.dependencies[name];
      if (!range) throw new Error(`${spec.name} depends on ${name}, which the root package.json does not list`);
      return [name, range];
    }),
  );
  return {
    name: spec.name,
    version: root.version,
    description: spec.description,
    license: root.license,
    type: 'module',
    engines: root.engines,
    exports,
    ...(spec.bin ? { bin: spec.bin } : {}),
    files: ['dist'],
    dependencies,
    ...(spec.optionalPeers ? peersOf(spec.optionalPeers) : {}),
  };
}

/** Optional peers as npm reads them: npm installs none of them, and warns only on a wrong version. */
function peersOf(peers: Record<string, string>): Record<string, unknown> {
  return {
    peerDependencies: peers,
    peerDependenciesMeta: Object.fromEntries(Object.keys(peers).map((name) => [name, { optional: true }])),
  };
}
