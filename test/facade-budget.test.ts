import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = new URL('..', import.meta.url);
const build = (env: Record<string, string> = {}) => run(process.execPath, ['esbuild.mjs'], { cwd: root, env: { ...process.env, ...env } });
const sizeLine = /facade \(connect \+ repository, with comlink\): (\d+) B gzip \(budget (\d+) B\)/;

describe('the build checks the facade against its budget', () => {
  it('prints the facade gzip size, within the 4660 B budget', async () => {
    const { stdout } = await build();
    const [, size, budget] = sizeLine.exec(stdout) ?? assert.fail(`no size line in: ${stdout}`);
    assert.equal(Number(budget), 4660);
    assert.ok(Number(size) <= Number(budget), `${size} B over ${budget} B`);
  });

  it('fails, saying OVER BUDGET, when the facade is bigger than the budget', async () => {
    await assert.rejects(build({ TABSYNC_FACADE_BUDGET: '1000' }), (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 1);
      assert.match(error.stderr, /facade .* B gzip \(budget 1000 B\): OVER BUDGET by \d+ B/);
      return true;
    });
  });
});
