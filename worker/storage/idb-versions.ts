/**
 * Which IndexedDB version the runtime opens, given its `schemaVersion` and its declared query
 * indexes (an index can only be added in a versionchange transaction, so adding one means a
 * higher version). A version holds both numbers:
 *
 *   version < STEP   → schema = version, revision 0 (how every database without query indexes
 *                      is numbered, as before indexes existed)
 *   version ≥ STEP   → schema = ⌊version / STEP⌋, index revision = version mod STEP
 *
 * - The database's schema is higher than ours: refused (VersionError), as before: an older
 *   deployment never runs on a newer schema.
 * - Lower: upgrade to our schema; its indexes become exactly the declared ones (others dropped).
 * - Equal: if every declared index is there, open as it is (an extra index, another deployment's,
 *   stays and is kept up to date by every write); otherwise the next revision adds the missing
 *   ones and drops none. So two deployments that declare different indexes converge on the union
 *   instead of upgrading back and forth; the one whose upgrade comes second retires the other's
 *   open workers once (versionchange, as for a new schema), and no record is ever removed.
 * A database with query indexes is always numbered ≥ STEP, so a runtime that predates them (and
 * would write rows without their index keys) is refused by it rather than served.
 */
import { indexesMatch, specsOfStore, unionSpecs, type IndexSpec } from '../local/query/indexes';

export const STEP = 1_000_000;

export function decodeVersion(version: number): { schema: number; revision: number } {
  return version < STEP ? { schema: version, revision: 0 } : { schema: Math.floor(version / STEP), revision: version % STEP };
}

export type OpenStep =
  /** The open database serves: `specs` are the indexes it has (each write keeps them all). */
  | { keep: true; specs: IndexSpec[] }
  /** Reopen at `version`, upgrading the records store to exactly `specs`. */
  | { keep: false; version: number; specs: IndexSpec[] };

export function nextStep(version: number, store: Pick<IDBObjectStore, 'indexNames'>, schemaVersion: number, declared: readonly IndexSpec[]): OpenStep {
  const { schema } = decodeVersion(version);
  if (schema > schemaVersion) {
    throw new DOMException(`the database is at schema ${schema}, newer than this worker's ${schemaVersion}`, 'VersionError');
  }
  if (schema < schemaVersion) {
    const legacy = declared.length === 0 && version < STEP && schemaVersion < STEP;
    return { keep: false, version: legacy ? schemaVersion : schemaVersion * STEP, specs: [...declared] };
  }
  const specs = unionSpecs(declared, specsOfStore(store.indexNames));
  if (indexesMatch(store, specs)) return { keep: true, specs };
  const next = version < STEP ? schemaVersion * STEP : version + 1;
  if (decodeVersion(next).schema !== schemaVersion) throw new Error('too many index upgrades within one schemaVersion: raise schemaVersion');
  return { keep: false, version: next, specs };
}
