/**
 * What the server must do with one frame, worked out with the decoder the server runs, so every
 * frame's answer can be checked rather than merely awaited.
 */
import { isUtf8 } from 'node:buffer';
import { ClientMessageSchema, decodeFrame, type ClientMessage } from '../../protocol';
import { MAX_PAYLOAD_FACTOR } from '../../server/app';
import type { FuzzFrame } from './frames';

export type Prediction =
  /** The WebSocket layer refuses the frame and closes: 1009 too big, 1007 not UTF-8. */
  | { kind: 'close'; code: 1007 | 1009 }
  /** Answered on arrival with an error; `too_large` also closes with 1009. */
  | { kind: 'error'; code: 'invalid_message' | 'too_large' }
  | { kind: 'pong' }
  /** A `pong`: nothing comes back. */
  | { kind: 'silent' }
  /** Valid: processed in arrival order after the messages before it. */
  | { kind: 'queued'; message: ClientMessage };

export function predict(frame: FuzzFrame, maxMessageBytes: number): Prediction {
  const size = frame.bytes.byteLength;
  if (size > maxMessageBytes * MAX_PAYLOAD_FACTOR) return { kind: 'close', code: 1009 };
  if (frame.binary) return { kind: 'error', code: 'invalid_message' };
  if (!isUtf8(frame.bytes)) return { kind: 'close', code: 1007 };
  if (size > maxMessageBytes) return { kind: 'error', code: 'too_large' };
  const decoded = decodeFrame(frame.bytes.toString('utf8'), ClientMessageSchema, maxMessageBytes);
  if (!decoded.ok) return { kind: 'error', code: decoded.code };
  if (decoded.message.type === 'ping') return { kind: 'pong' };
  if (decoded.message.type === 'pong') return { kind: 'silent' };
  return { kind: 'queued', message: decoded.message };
}
