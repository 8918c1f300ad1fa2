export const DEFAULT_SCHEDULER_PORT = 7700;
export const DEFAULT_SCHEDULER_ADDRESS = `127.0.0.1:${DEFAULT_SCHEDULER_PORT}`;

export interface HostPort {
  host: string;
  port: number;
}

/**
 * "HOST:PORT" (or "HOST", taking the default port) into its parts, or a
 * one-line error. Port 0 (any free port) only makes sense for listening.
 */
export function parseHostPort(text: string, defaultPort = DEFAULT_SCHEDULER_PORT, allowPortZero = false): HostPort {
  const trimmed = text.trim();
  const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(?::(\d+))?$/.exec(trimmed);
  if (!match) throw new Error(`invalid address "${text}": expected HOST:PORT`);
  const port = match[2] === undefined ? defaultPort : Number(match[2]);
  if (!Number.isInteger(port) || port < (allowPortZero ? 0 : 1) || port > 65535) {
    throw new Error(`invalid address "${text}": port must be 1-65535`);
  }
  return { host: match[1], port };
}

/** A comma-separated list of scheduler addresses, normalised to "host:port". */
export function parseAddressList(text: string): string[] {
  const parts = text.split(',').map((part) => part.trim()).filter((part) => part !== '');
  if (parts.length === 0) throw new Error('no scheduler address given');
  return parts.map((part) => {
    const { host, port } = parseHostPort(part);
    return `${host}:${port}`;
  });
}
