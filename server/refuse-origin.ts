/**
 * A page of an origin the server does not allow gets a WebSocket that says so, then closes: a
 * browser cannot read an HTTP 403 on an upgrade (it sees only "WebSocket error"), but it can read
 * one frame. Nothing the socket sends is read or processed, and nothing about the server is told
 * beyond the page's own origin and the setting to change.
 */
import type { WebSocket } from 'ws';
import { ErrorCode, type ServerMessage } from '../protocol/messages';
import { CloseCode } from './connection';

export function refuseOrigin(ws: WebSocket, origin: string | undefined): void {
  const refusal: ServerMessage = {
    type: 'error',
    code: ErrorCode.originRefused,
    message: `this server does not accept pages from ${origin}: add the origin to ALLOWED_ORIGINS (allowedOrigins of createSyncServer), or serve the page from the server's own origin`,
  };
  // No message listener: frames from this socket are discarded unread until it is closed.
  ws.send(JSON.stringify(refusal));
  ws.close(CloseCode.policyViolation, 'origin refused');
}
