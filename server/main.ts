#!/usr/bin/env node
/** The server process (`npm start`, the `tabsync-server` bin): configuration → server → graceful shutdown on SIGINT / SIGTERM. */
import { startServer } from './app';
import { loadConfig } from './config';
import { createLogger } from './log';

/** Fatal errors go to stderr whatever LOG_LEVEL says: they explain why the process exits. */
const fatal = createLogger('error', (line) => process.stderr.write(line + '\n'));

try {
  const server = await startServer(loadConfig());
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        fatal.error('shutdown failed', { signal, error });
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (error) {
  fatal.error('start failed', { error });
  process.exit(1);
}
