import type { PortConfigInput } from './spec-inputs';
import type { ConvertContext } from './convert-context';
import { parsePort } from '../flags';
import { CliError } from '../errors';

/**
 * Ports are published on the node running the task (host mode), the only
 * publishing pisched has so far: Swarm's default, the routing mesh, is
 * refused when asked for by name, and so are a host IP or a port without a
 * published side, which host mode cannot honour.
 */
export function convertPorts(value: unknown, context: ConvertContext): PortConfigInput[] {
  if (value === undefined || value === null) return [];
  return (value as unknown[]).flatMap((entry, index) =>
    typeof entry === 'object' && entry !== null ? longPort(entry as Record<string, unknown>, index, context) : shortPort(String(entry), index, context),
  );
}

function shortPort(text: string, index: number, context: ConvertContext): PortConfigInput[] {
  const parts = text.split(':');
  if (parts.length === 1) context.fail(['ports', index], `"${text}" publishes no port on the node: write PUBLISHED:TARGET (an ephemeral port needs the routing mesh, not supported yet)`);
  if (parts.length > 2) context.fail(['ports', index], `"${text}": binding to a host IP is not supported; write PUBLISHED:TARGET`);
  return parse(text, ['ports', index], context);
}

function longPort(entry: Record<string, unknown>, index: number, context: ConvertContext): PortConfigInput[] {
  const where = ['ports', index];
  const mode = String(entry.mode ?? 'host');
  if (mode !== 'host') context.fail([...where, 'mode'], `mode ${mode} needs the routing mesh, not supported yet: use mode: host`);
  if (entry.host_ip !== undefined) context.fail([...where, 'host_ip'], 'binding to a host IP is not supported');
  if (entry.published === undefined) context.fail(where, 'a published port is required (an ephemeral port needs the routing mesh, not supported yet)');
  for (const key of ['name', 'app_protocol']) if (entry[key] !== undefined) context.warn([...where, key]);
  return parse(`${String(entry.published)}:${String(entry.target)}/${String(entry.protocol ?? 'tcp')}`, where, context);
}

function parse(text: string, where: (string | number)[], context: ConvertContext): PortConfigInput[] {
  try {
    return parsePort(text);
  } catch (error) {
    if (error instanceof CliError) context.fail(where, error.message);
    throw error;
  }
}
