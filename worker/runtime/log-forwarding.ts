/** The worker's warnings and errors, to the app's logger (the console by default) and to the
 *  tabs (`onLog`), without waiting for either. */
import type { LogEntry } from '../../protocol/tab-api';
import type { Logger } from '../config';
import { describe } from '../errors';

export function forwardingLogger(base: Logger, forward: (entry: LogEntry) => void): Required<Logger> {
  const send = (level: LogEntry['level'], message: string, detail: unknown) =>
    forward({ level, message: detail === undefined ? message : `${message}: ${describe(detail)}`, at: new Date().toISOString() });
  return {
    warn(message, detail) {
      base.warn(message, detail);
      send('warn', message, detail);
    },
    error(message, detail) {
      (base.error ?? base.warn).call(base, message, detail);
      send('error', message, detail);
    },
  };
}
