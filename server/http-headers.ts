/** Headers every HTTP response of the server carries, whatever answers it (a file, the API, a refusal). */
import type { ServerResponse } from 'node:http';

/** frame-ancestors, base-uri and form-action do not fall back to default-src: each is named. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; connect-src 'self' ws: wss:; script-src 'self'; style-src 'self'; worker-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

export function setSecurityHeaders(response: ServerResponse): void {
  response.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  // No response is ever to be read as anything but its declared type (a JSON body as script, say).
  response.setHeader('X-Content-Type-Options', 'nosniff');
}
