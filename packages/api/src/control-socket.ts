import { parseHostPort } from './addresses';

/**
 * In a scheduler's data dir: the directory (0700) holding the unix socket on
 * which it serves the Control API without TLS to callers on its own machine.
 */
export const CONTROL_SOCKET_DIR = 'control';

/**
 * The socket's name is the address the scheduler listens on ("HOST:PORT.sock",
 * the port as bound), so that the CLI uses it only for that scheduler and not
 * for another member it was asked to call.
 */
export function controlSocketName(host: string, port: number): string {
  return `${host}:${port}.sock`;
}

/** The listen address a socket's name stands for, or undefined for any other file. */
export function parseControlSocketName(name: string): { host: string; port: number } | undefined {
  if (!name.endsWith('.sock')) return undefined;
  try {
    return parseHostPort(name.slice(0, -'.sock'.length), 0);
  } catch {
    return undefined;
  }
}
