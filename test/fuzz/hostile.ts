/** Values an attacker (or a broken client) puts where the protocol expects something sane. */
import { MAX_DATA_ID_LENGTH } from '../../protocol';

/** Strings aimed at SQL, paths, templates, parsers and Unicode handling. */
export const HOSTILE_STRINGS: readonly string[] = [
  "'; DROP TABLE events; --",
  '"; DROP TABLE records; --',
  "Robert'); DROP TABLE namespaces;--",
  "' OR '1'='1",
  '1 UNION SELECT namespace, event_id FROM events --',
  "x'); DELETE FROM events WHERE ('1'='1",
  '%',
  '_',
  '%_%',
  '\\',
  "\\'",
  "''",
  '"',
  '`',
  '$1',
  '?',
  ':namespace',
  '@namespace',
  '\u0000',
  'a\u0000b',
  "\u0000'; DROP TABLE events; --",
  '\ud800',
  '\udfff',
  'x\ud83d',
  '\udc00y',
  '\ud83d\ude00',
  '\u202e\u0645',
  '\ufeff',
  '\uffff',
  'e\u0301',
  '\u{1d518}\u{1d52b}',
  '../../etc/passwd',
  '..',
  '/',
  'CON',
  '<script>alert(1)</script>',
  '{{7*7}}',
  '${7*7}',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  ' ',
  '\t\n\r',
  '',
  'x'.repeat(64),
  'x'.repeat(65),
  'y'.repeat(MAX_DATA_ID_LENGTH),
  'y'.repeat(MAX_DATA_ID_LENGTH + 1),
];

/** Names at the edge of the repository pattern: SQL-ish ones that match it, and the JavaScript-reserved keys it refuses. */
export const HOSTILE_VALID_REPOSITORIES: readonly string[] = [
  'DROP_TABLE_events--',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  '_',
  '-',
  'r'.repeat(64),
];

/** Numbers at the edges, as raw JSON text: some are not representable, some not integers. */
export const EDGE_NUMBERS: readonly string[] = [
  '-1',
  '-0',
  '0.5',
  '1e309',
  '-1e309',
  '1e-400',
  '9007199254740992',
  '9007199254740993',
  '-9007199254740993',
  '18446744073709551616',
  '1E2',
  '0',
  '1001',
  '501',
  'NaN',
  'Infinity',
  '0x10',
  '01',
];

/** Values of every JSON type, to put where another type is expected. */
export const WRONG_TYPED_VALUES: readonly unknown[] = [0, -1, 1.5, 'text', '', true, false, null, [], {}, [1, 'a'], { type: 'ping' }, 'x'.repeat(300)];

export const PROTOTYPE_KEYS: readonly string[] = ['__proto__', 'constructor', 'prototype'];

/** Byte sequences no UTF-8 decoder accepts. */
export const INVALID_UTF8: readonly Buffer[] = [
  Buffer.from([0xff]),
  Buffer.from([0xc3, 0x28]),
  Buffer.from([0xed, 0xa0, 0x80]), // a surrogate encoded as if it were a character (CESU-8)
  Buffer.from([0xc0, 0xaf]), // an overlong '/'
  Buffer.from([0xf4, 0x90, 0x80, 0x80]), // above U+10FFFF
  Buffer.from([0xe2, 0x82]), // truncated
];
