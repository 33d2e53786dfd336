/**
 * node:test's `test` as the storage contract uses it, in a page: it only collects the cases, which
 * the runner (runner.ts) runs one by one. esbuild.mjs maps `node:test` here for this bundle.
 */
export interface Case {
  name: string;
  run(): Promise<void> | void;
}

export const cases: Case[] = [];

export function test(name: string, run: () => Promise<void> | void): void {
  cases.push({ name, run });
}
