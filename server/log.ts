/** Structured logging: one JSON line per event of note. Never pass a token in `fields`. */

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
type MessageLevel = Exclude<LogLevel, 'silent'>;

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

export function createLogger(level: LogLevel, write: (line: string) => void = (line) => process.stdout.write(line + '\n')): Logger {
  const threshold = LOG_LEVELS.indexOf(level);
  const emit = (messageLevel: MessageLevel) => (message: string, fields: LogFields = {}) => {
    if (LOG_LEVELS.indexOf(messageLevel) < threshold) return;
    write(JSON.stringify({ time: new Date().toISOString(), level: messageLevel, msg: message, ...fields }, errorReplacer));
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

/** Errors serialize to `{}` by default; keep what helps to diagnose them. */
function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  return value;
}
