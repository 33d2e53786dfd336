/**
 * Decoding a text frame from an untrusted peer: size, nesting depth, prototype keys and lone
 * surrogates are checked before the schema sees it, so no frame can blow the stack, exhaust memory,
 * pollute a prototype, or carry a string that no UTF-8 store keeps as it was sent.
 */
import * as v from 'valibot';
import { MAX_IDENTIFIER_LENGTH, MAX_JSON_DEPTH } from './limits';
import { describeIssues } from './messages';

export type Decoded<T> =
  | { ok: true; message: T }
  /** `parsed`: the JSON, when it parsed but the schema refused it. */
  | { ok: false; code: 'invalid_message' | 'too_large'; error: string; parsed?: unknown };

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

/** An unpaired UTF-16 surrogate: SQLite text turns it into U+FFFD, PostgreSQL jsonb refuses it. */
const LONE_SURROGATE = /\p{Surrogate}/u;
/** What `unstorableText` refuses, to be replaced when the text is ours to send (an error quoting input). */
const UNSTORABLE_CHARACTERS = /\p{Surrogate}|\u0000/gu;

/** Why no store could keep `text` as it was sent, or undefined when every store can: a lone
 *  surrogate, or U+0000 (PostgreSQL text and jsonb refuse it). */
export function unstorableText(text: string): string | undefined {
  if (LONE_SURROGATE.test(text)) return 'strings must be well-formed Unicode (a lone surrogate was found)';
  if (text.includes('\u0000')) return 'strings must not contain U+0000';
  return undefined;
}

/** Why a parsed frame holds what no store keeps as sent (a `__proto__` key, an unstorable
 *  string), or undefined. The key is left out of the result, so that the refusal can still name
 *  the frame's events (the rest of it parsed) with nothing of it reaching a prototype. */
/** Why `value` cannot name a namespace or a principal, or undefined: like every other
 *  identifier, a non-empty string of at most MAX_IDENTIFIER_LENGTH characters that every store
 *  keeps as it is (on PostgreSQL, lone surrogates all became U+FFFD: one namespace). */
export function identifierProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return `must be a string, not ${Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`}`;
  if (value.length === 0) return 'must not be empty';
  if (value.length > MAX_IDENTIFIER_LENGTH) return `must be at most ${MAX_IDENTIFIER_LENGTH} characters`;
  return unstorableText(value);
}

function parseChecked(text: string): { value: unknown; problem?: string } {
  let problem: string | undefined;
  const value: unknown = JSON.parse(text, (key, item: unknown) => {
    if (key === '__proto__') {
      problem ??= '__proto__ keys are not allowed: no store could keep one';
      return undefined;
    }
    problem ??= unstorableText(key) ?? (typeof item === 'string' ? unstorableText(item) : undefined);
    return item;
  });
  return problem === undefined ? { value } : { value, problem };
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
    // In text decoded from UTF-8, only an escape (\u…) spells a lone surrogate, or `__proto__` other than literally.
    const suspect = text.includes('"__proto__"') || text.includes('\\u');
    const checked = suspect ? parseChecked(text) : { value: JSON.parse(text) as unknown };
    if (checked.problem !== undefined) return { ok: false, code: 'invalid_message', error: checked.problem, parsed: checked.value };
    raw = checked.value;
  } catch (e) {
    // The parser quotes the input (maybe cut inside a surrogate pair, maybe with U+0000): keep the
    // error decodable by the peer's own decoder.
    return { ok: false, code: 'invalid_message', error: `invalid JSON: ${(e as Error).message.replace(UNSTORABLE_CHARACTERS, '\ufffd')}` };
  }
  const result = v.safeParse(schema, raw);
  if (!result.success) return { ok: false, code: 'invalid_message', error: describeIssues(result.issues), parsed: raw };
  return { ok: true, message: result.output };
}

const encoder = new TextEncoder();
/** UTF-8 length of `text`, computed only when it could exceed `limit` (a UTF-16 unit is 1 to 3 bytes). */
function utf8Length(text: string, limit: number): number {
  if (text.length > limit) return text.length;
  if (text.length * 3 <= limit) return text.length;
  return encoder.encode(text).byteLength;
}
