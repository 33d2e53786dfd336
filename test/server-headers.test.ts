/**
 * Headers on every HTTP response (issue 14): the CSP and nosniff whatever answers (a file, the
 * API, an error, a refusal), no-store on API JSON, and source maps only when turned on.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import type { ServerConfig } from '../server/config';
import { CONTENT_SECURITY_POLICY } from '../server/http-headers';
import { startTestServer, type TestServer } from './helpers/server';

describe('HTTP response headers', () => {
  const servers: TestServer[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.stop();
  });
  async function start(overrides: Partial<ServerConfig> = {}): Promise<TestServer> {
    const server = await startTestServer({ authTokens: new Map([['token', 'alpha']]), ...overrides });
    servers.push(server);
    const publicDir = join(server.dir, 'public'); // startTestServer's default
    mkdirSync(publicDir, { recursive: true });
    writeFileSync(join(publicDir, 'index.html'), '<!doctype html><title>demo</title>');
    writeFileSync(join(publicDir, 'app.js'), 'console.log(1)');
    writeFileSync(join(publicDir, 'app.js.map'), '{"version":3,"sources":["secret-source.ts"]}');
    return server;
  }
  const get = (server: TestServer, path: string, headers: Record<string, string> = {}) => fetch(server.url + path, { headers });

  it('every response carries the CSP and nosniff: files, API answers, errors and refusals', async () => {
    const server = await start();
    const answers = [
      await get(server, '/'),
      await get(server, '/app.js'),
      await get(server, '/api/health'),
      await get(server, '/api/events/todos', { authorization: 'Bearer token' }),
      await get(server, '/api/repositories'), // 401
      await get(server, '/nowhere'), // 404
      await fetch(server.url + '/api/health', { method: 'POST' }), // 405
      await get(server, '/api/events/bad%20name', { authorization: 'Bearer token' }), // 400
    ];
    assert.deepEqual(answers.map((r) => r.status), [200, 200, 200, 200, 401, 404, 405, 400]);
    for (const response of answers) {
      assert.equal(response.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY, response.url);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff', response.url);
      await response.arrayBuffer();
    }
  });

  it('API JSON is never cached; the demo files are revalidated', async () => {
    const server = await start();
    for (const path of ['/api/health', '/api/repositories', '/api/events/todos', '/api/nothing']) {
      const response = await get(server, path, { authorization: 'Bearer token' });
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(response.headers.get('cache-control'), 'no-store', path);
      await response.arrayBuffer();
    }
    const page = await get(server, '/');
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    await page.arrayBuffer();
  });

  it('source maps are not served unless SERVE_SOURCE_MAPS is on', async () => {
    const production = await start();
    const hidden = await get(production, '/app.js.map');
    assert.equal(hidden.status, 404);
    assert.doesNotMatch(await hidden.text(), /secret-source/);

    const development = await start({ serveSourceMaps: true });
    const served = await get(development, '/app.js.map');
    assert.equal(served.status, 200);
    assert.match(await served.text(), /secret-source/);
  });
});
