import pino, { type Logger } from 'pino';

/** JSON lines on stderr, as systemd's journal and `jq` like them. */
export function createLogger(name: string, level = process.env.PISCHED_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level }, pino.destination(2));
}
