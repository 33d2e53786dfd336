import type { Page } from '@playwright/test';

/** Calls a method of the object a bench page put on `globalThis[globalName]`, typed by `B`. */
export function pageCaller<B extends Record<string, (...params: never[]) => unknown>>(globalName: string) {
  return <K extends keyof B & string>(page: Page, name: K, ...params: Parameters<B[K]>) =>
    page.evaluate(({ globalName, name, params }) => {
      const bench = (globalThis as unknown as Record<string, Record<string, (...a: unknown[]) => unknown>>)[globalName]!;
      return bench[name]!(...params);
    }, { globalName, name, params: params as unknown[] }) as Promise<Awaited<ReturnType<B[K]>>>;
}
