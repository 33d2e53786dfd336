/**
 * The indexes the worker config declares per repository (`indexes: { todos: ['done', ['listId',
 * 'createdAt']] }`) as IndexedDB indexes on the shared `records` store, and the upgrade that
 * makes the store's indexes match them. Every repository shares the store, so each index leads
 * with `repository`; its other key path segments are `keys.<field>` (see keys.ts), and records
 * with equal keys follow in primary key order, which within a repository is id order.
 */
import { REPOSITORY_NAME } from '../../../protocol/limits';
import { FIELD_NAME } from '../../../protocol/query';
import { encodeFields, type EncodedValue } from './keys';

export type IndexDeclaration = string | readonly string[];
export type IndexDeclarations = Readonly<Record<string, readonly IndexDeclaration[]>>;

export interface IndexSpec {
  repository: string;
  fields: string[];
  /** The IndexedDB index name: `query:<repository>:<field>+<field>`. */
  name: string;
  keyPath: string[];
}

/** Every index this module created starts so; others on the store are not its business. */
export const INDEX_PREFIX = 'query:';
export const MAX_INDEX_FIELDS = 8;

/** The indexes to have, from the config's declarations; throws a clear error on a bad one. */
export function indexSpecs(indexes: IndexDeclarations, repositories?: readonly string[]): IndexSpec[] {
  const specs: IndexSpec[] = [];
  for (const [repository, declarations] of Object.entries(indexes)) {
    const where = `indexes.${repository}`;
    if (!REPOSITORY_NAME.test(repository)) throw new Error(`${where}: not a repository name`);
    if (repositories && !repositories.includes(repository)) throw new Error(`${where}: no such repository in the config`);
    if (!Array.isArray(declarations)) throw new Error(`${where} must be an array of fields or of arrays of fields`);
    const names = new Set<string>();
    for (const declaration of declarations) {
      const fields = typeof declaration === 'string' ? [declaration] : [...(declaration as readonly string[])];
      checkFields(where, fields);
      const name = `${INDEX_PREFIX}${repository}:${fields.join('+')}`;
      if (names.has(name)) throw new Error(`${where}: ${fields.join('+')} is declared twice`);
      names.add(name);
      specs.push({ repository, fields, name, keyPath: ['repository', ...fields.map((field) => `keys.${field}`)] });
    }
  }
  return specs;
}

function checkFields(where: string, fields: unknown[]): void {
  if (fields.length === 0 || fields.length > MAX_INDEX_FIELDS) throw new Error(`${where}: an index has 1 to ${MAX_INDEX_FIELDS} fields`);
  for (const field of fields) {
    if (typeof field !== 'string' || !FIELD_NAME.test(field)) throw new Error(`${where}: ${JSON.stringify(field)} is not a field name`);
  }
  if (new Set(fields).size !== fields.length) throw new Error(`${where}: an index names a field twice`);
}

/** The fields a repository's rows carry keys for: those of all its indexes. */
export function indexedFields(specs: readonly IndexSpec[], repository: string): string[] {
  return [...new Set(specs.filter((spec) => spec.repository === repository).flatMap((spec) => spec.fields))].sort();
}

/** A row as the IndexedDB store keeps it: a live one with its `keys`, a tombstone without. */
export function withIndexKeys<R extends { data?: Readonly<Record<string, unknown>> | undefined; deleted: boolean }>(
  row: R,
  fields: readonly string[],
): R & { keys?: Record<string, EncodedValue> } {
  const { keys: _stale, ...rest } = row as R & { keys?: unknown };
  if (row.deleted || !row.data || fields.length === 0) return rest as R;
  return { ...(rest as R), keys: encodeFields(row.data, fields) };
}

export interface UpgradeReport {
  added: string[];
  dropped: string[];
  /** Rows whose `keys` were rewritten for the new set of fields. */
  rewritten: number;
}

/** Whether the store's indexes already match the specs (no upgrade needed). */
export function indexesMatch(store: Pick<IDBObjectStore, 'indexNames'>, specs: readonly IndexSpec[]): boolean {
  const present = Array.from(store.indexNames).filter((name) => name.startsWith(INDEX_PREFIX)).sort();
  const wanted = specs.map((spec) => spec.name).sort();
  return present.length === wanted.length && present.every((name, i) => name === wanted[i]);
}

/**
 * Inside a versionchange transaction: creates the declared indexes the store lacks, deletes the
 * ones it has that are no longer declared, and gives every row the `keys` of its repository's
 * fields. No record is removed: a row is only rewritten with other keys.
 */
export function upgradeIndexes(store: IDBObjectStore, specs: readonly IndexSpec[]): Promise<UpgradeReport> {
  const wanted = new Map(specs.map((spec) => [spec.name, spec]));
  const report: UpgradeReport = { added: [], dropped: [], rewritten: 0 };
  for (const name of Array.from(store.indexNames)) {
    if (name.startsWith(INDEX_PREFIX) && !wanted.has(name)) {
      store.deleteIndex(name);
      report.dropped.push(name);
    }
  }
  for (const spec of specs) {
    if (store.indexNames.contains(spec.name)) continue;
    store.createIndex(spec.name, spec.keyPath);
    report.added.push(spec.name);
  }
  return rewriteKeys(store, specs, report);
}

function rewriteKeys(store: IDBObjectStore, specs: readonly IndexSpec[], report: UpgradeReport): Promise<UpgradeReport> {
  const fieldsOf = new Map<string, string[]>();
  const fields = (repository: string) => {
    let found = fieldsOf.get(repository);
    if (!found) fieldsOf.set(repository, (found = indexedFields(specs, repository)));
    return found;
  };
  return new Promise((resolve, reject) => {
    const request = store.openCursor();
    request.onerror = () => reject(request.error ?? new Error('reading the records failed'));
    request.onsuccess = () => {
      const cursor = request.result;
      if (!cursor) return resolve(report);
      const row = cursor.value as { repository: string; data?: Record<string, unknown>; deleted: boolean; keys?: unknown };
      const next = withIndexKeys(row, fields(row.repository));
      if (JSON.stringify(next.keys) !== JSON.stringify(row.keys)) {
        cursor.update(next);
        report.rewritten++;
      }
      cursor.continue();
    };
  });
}

/** The specs of the `query:` indexes a store has, read back from their names. */
export function specsOfStore(indexNames: DOMStringList | readonly string[]): IndexSpec[] {
  const specs: IndexSpec[] = [];
  for (const name of Array.from(indexNames)) {
    if (!name.startsWith(INDEX_PREFIX)) continue;
    const [repository, joined] = name.slice(INDEX_PREFIX.length).split(':');
    if (!repository || !joined) continue;
    const fields = joined.split('+');
    specs.push({ repository, fields, name, keyPath: ['repository', ...fields.map((field) => `keys.${field}`)] });
  }
  return specs;
}

/** The declared specs, then those of `others` not declared (by index name). */
export function unionSpecs(declared: readonly IndexSpec[], others: readonly IndexSpec[]): IndexSpec[] {
  const names = new Set(declared.map((spec) => spec.name));
  return [...declared, ...others.filter((spec) => !names.has(spec.name))];
}
