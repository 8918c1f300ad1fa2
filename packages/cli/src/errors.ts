/**
 * A failure the user should see as exactly one line on stderr. Anything
 * else that escapes a command is a bug and is reported as such.
 */
export class CliError extends Error {
  override name = 'CliError';

  constructor(message: string, readonly exitCode = 1) {
    // A multi-line message would break the one-line contract scripts rely on.
    super(oneLine(message));
  }
}

export function oneLine(text: string): string {
  return text.split(/\r?\n/).map((part) => part.trim()).filter((part) => part !== '').join(' ');
}
