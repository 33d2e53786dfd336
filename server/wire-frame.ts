/**
 * A server's WebSocket text frame (RFC 6455 §5.2: FIN, opcode 1, unmasked, the payload's length
 * in 7, 16 or 64 bits) built in one Buffer, header and payload together. The fan-out frames a
 * message once and writes the same bytes to every subscriber's socket: one write each, instead of
 * ws framing it again per subscriber (a header Buffer, options objects, a corked two-part writev).
 */

const FIN_TEXT = 0x81;

function headerBytes(payloadBytes: number): number {
  if (payloadBytes < 126) return 2;
  return payloadBytes < 65536 ? 4 : 10;
}

function writeHeader(frame: Buffer, payloadBytes: number): number {
  frame[0] = FIN_TEXT;
  if (payloadBytes < 126) {
    frame[1] = payloadBytes;
    return 2;
  }
  if (payloadBytes < 65536) {
    frame[1] = 126;
    frame.writeUInt16BE(payloadBytes, 2);
    return 4;
  }
  frame[1] = 127;
  frame.writeBigUInt64BE(BigInt(payloadBytes), 2);
  return 10;
}

/** `payload` (UTF-8 text) framed. */
export function textFrame(payload: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(headerBytes(payload.byteLength) + payload.byteLength);
  payload.copy(frame, writeHeader(frame, payload.byteLength));
  return frame;
}

/** `text` encoded and framed in one allocation; `bytes` is its UTF-8 length. */
export function textFrameOf(text: string, bytes: number): Buffer {
  const frame = Buffer.allocUnsafe(headerBytes(bytes) + bytes);
  frame.write(text, writeHeader(frame, bytes), 'utf8');
  return frame;
}

/** The frame of each payload the fan-out hands to several sockets, built on the first. */
const framed = new WeakMap<Buffer, Buffer>();

export function sharedTextFrame(payload: Buffer): Buffer {
  let frame = framed.get(payload);
  if (!frame) framed.set(payload, (frame = textFrame(payload)));
  return frame;
}
