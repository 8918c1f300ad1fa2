import type { PortConfigInput } from './spec-inputs';
import type { ConvertContext } from './convert-context';
import { parsePort } from '../flags';
import { CliError } from '../errors';

/**
 * Ports as Compose writes them, published as Swarm's stacks publish them: in
 * the routing mesh (ingress) unless the long syntax says `mode: host`. A host
 * IP, or a port without a published side (an ephemeral one), is refused.
 */
export function convertPorts(value: unknown, context: ConvertContext): PortConfigInput[] {
  if (value === undefined || value === null) return [];
  return (value as unknown[]).flatMap((entry, index) =>
    typeof entry === 'object' && entry !== null ? longPort(entry as Record<string, unknown>, index, context) : shortPort(String(entry), index, context),
  );
}

function shortPort(text: string, index: number, context: ConvertContext): PortConfigInput[] {
  const parts = text.split(':');
  if (parts.length === 1) context.fail(['ports', index], `"${text}" publishes no port: write PUBLISHED:TARGET (ephemeral published ports are not supported)`);
  if (parts.length > 2) context.fail(['ports', index], `"${text}": binding to a host IP is not supported; write PUBLISHED:TARGET`);
  return parse(text, ['ports', index], context);
}

function longPort(entry: Record<string, unknown>, index: number, context: ConvertContext): PortConfigInput[] {
  const where = ['ports', index];
  const mode = String(entry.mode ?? 'ingress');
  if (mode !== 'ingress' && mode !== 'host') context.fail([...where, 'mode'], `unknown mode ${mode}: use ingress or host`);
  if (entry.host_ip !== undefined) context.fail([...where, 'host_ip'], 'binding to a host IP is not supported');
  if (entry.published === undefined) context.fail(where, 'a published port is required (ephemeral published ports are not supported)');
  for (const key of ['name', 'app_protocol']) if (entry[key] !== undefined) context.warn([...where, key]);
  return parse(`published=${String(entry.published)},target=${String(entry.target)},protocol=${String(entry.protocol ?? 'tcp')},mode=${mode}`, where, context);
}

function parse(text: string, where: (string | number)[], context: ConvertContext): PortConfigInput[] {
  try {
    return parsePort(text);
  } catch (error) {
    if (error instanceof CliError) context.fail(where, error.message);
    throw error;
  }
}
