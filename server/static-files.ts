/** Serves the demo's files from one directory: no path leaves it, source maps only when asked for. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, resolve, sep } from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
};

export interface StaticOptions {
  /** Serve `.map` files (they show the sources: development only). */
  sourceMaps: boolean;
}

/** Serves `pathname` from `root`; false when there is no such file (the caller answers 404). */
export async function serveStatic(
  root: string,
  pathname: string,
  request: IncomingMessage,
  response: ServerResponse,
  options: StaticOptions,
): Promise<boolean> {
  const file = resolveInside(root, pathname === '/' ? '/index.html' : pathname);
  if (!file) return false;
  const extension = extname(file).toLowerCase();
  if (extension === '.map' && !options.sourceMaps) return false;
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) return false;

  // CSP and nosniff are set for every response (http-headers.ts).
  response.setHeader('Content-Type', CONTENT_TYPES[extension] ?? 'application/octet-stream');
  response.setHeader('Content-Length', info.size);
  response.setHeader('Cache-Control', 'no-cache');
  if (request.method === 'HEAD') {
    response.end();
    return true;
  }
  await new Promise<void>((done) => {
    createReadStream(file)
      .on('error', () => {
        response.destroy();
        done();
      })
      .on('end', done)
      .pipe(response);
  });
  return true;
}

/** The file a URL path names inside `root`, or undefined when it is malformed or escapes it. */
function resolveInside(root: string, pathname: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const base = resolve(root);
  const file = resolve(base, '.' + decoded);
  return file.startsWith(base + sep) ? file : undefined;
}
