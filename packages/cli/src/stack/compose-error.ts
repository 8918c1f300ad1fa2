import { CliError } from '../errors';

/** A problem in a Compose file: one line that names the file (and line), the service and the key. */
export class ComposeError extends CliError {
  override name = 'ComposeError';
}

/** `services.web.deploy.replicas` → `service "web": deploy.replicas`, the way a person looks for it. */
export function describePath(path: readonly (string | number)[]): string {
  const text = (parts: readonly (string | number)[]) =>
    parts.reduce<string>((out, part) => (typeof part === 'number' ? `${out}[${part}]` : out === '' ? part : `${out}.${part}`), '');
  if (path[0] === 'services' && path.length >= 2) {
    const rest = text(path.slice(2));
    return `service "${path[1]}"${rest === '' ? '' : `: ${rest}`}`;
  }
  return text(path);
}
