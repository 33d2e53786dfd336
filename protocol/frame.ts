/**
 * Decoding a text frame from an untrusted peer: size, nesting depth and prototype keys are checked
 * before the schema sees it, so no frame can blow the stack, exhaust memory or pollute a prototype.
 */
import * as v from 'valibot';
import { MAX_JSON_DEPTH } from './limits';
import { describeIssues } from './messages';

export type Decoded<T> = { ok: true; message: T } | { ok: false; code: 'invalid_message' | 'too_large'; error: string };

const OPEN_BRACE = 123, CLOSE_BRACE = 125, OPEN_BRACKET = 91, CLOSE_BRACKET = 93, QUOTE = 34, BACKSLASH = 92;

/** Deepest nesting of objects and arrays in a JSON text, counted without parsing it. */
export function jsonDepth(text: string): number {
  let depth = 0, max = 0, inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) { if (++depth > max) max = depth; }
    else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return max;
}

function rejectPrototypeKeys(key: string, value: unknown): unknown {
  if (key === '__proto__') throw new Error('__proto__ keys are not allowed');
  return value;
}

/** Parses and validates one frame against `schema`; never throws. */
export function decodeFrame<S extends v.GenericSchema>(
  text: string,
  schema: S,
  maxBytes: number,
): Decoded<v.InferOutput<S>> {
  if (utf8Length(text, maxBytes) > maxBytes) {
    return { ok: false, code: 'too_large', error: `frame exceeds ${maxBytes} bytes` };
  }
  if (jsonDepth(text) > MAX_JSON_DEPTH) {
    return { ok: false, code: 'invalid_message', error: `JSON nested deeper than ${MAX_JSON_DEPTH}` };
  }
  let raw: unknown;
  try {
    raw = text.includes('"__proto__"') ? JSON.parse(text, rejectPrototypeKeys) : JSON.parse(text);
  } catch (e) {
    return { ok: false, code: 'invalid_message', error: `invalid JSON: ${(e as Error).message}` };
  }
  const result = v.safeParse(schema, raw);
  if (!result.success) return { ok: false, code: 'invalid_message', error: describeIssues(result.issues) };
  return { ok: true, message: result.output };
}

const encoder = new TextEncoder();
/** UTF-8 length of `text`, computed only when it could exceed `limit` (a UTF-16 unit is 1 to 3 bytes). */
function utf8Length(text: string, limit: number): number {
  if (text.length > limit) return text.length;
  if (text.length * 3 <= limit) return text.length;
  return encoder.encode(text).byteLength;
}
