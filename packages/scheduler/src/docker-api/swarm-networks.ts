import { stackAliases, type Network, type ServiceSpec } from '@pisched/api';
import { DockerApiError, badRequest, type Json } from './swarm-types';
import { dockerTime, isSet, list, onlyKnown, str, stringMap, strings } from './docker-fields';

/**
 * Docker's networks and a service's network attachments, translated to and
 * from pisched's networks (`pisched network create`).
 *
 * | Docker                                               | pisched                                          |
 * | ---------------------------------------------------- | ------------------------------------------------ |
 * | NetworkCreate {Name, Labels}                         | Network {name, labels}                           |
 * | NetworkCreate.Driver overlay, bridge or none given   | (every pisched network spans the cluster)        |
 * | NetworkCreate.Scope swarm or none given              | (likewise)                                       |
 * | NetworkCreate.CheckDuplicate                         | always: a name is unique                         |
 * | Network as listed/inspected                          | Scope swarm, Driver overlay, as `docker stack` expects of its networks |
 * | TaskTemplate.Networks (or the older Spec.Networks) [{Target}] | networks (by name; Target is a name, id or unique id prefix) |
 * | …[{Target: "host"}] alone                            | container.network host                           |
 * | …Aliases                                             | honoured as pisched gives them: a stack's service STACK_KEY answers to KEY; any other alias refused |
 *
 * Refused when set: Internal, Attachable, Ingress, EnableIPv6, Options
 * (driver options), IPAM other than the default driver with no Config,
 * ConfigOnly, ConfigFrom, any other driver or scope, an attachment's
 * DriverOpts.
 */

/** The host's network stack, as dockerd describes its predefined "host" network. */
export const HOST_NETWORK: Json = {
  Name: 'host',
  Id: 'host',
  Created: dockerTime(0),
  Scope: 'local',
  Driver: 'host',
  EnableIPv6: false,
  IPAM: { Driver: 'default', Config: [] },
  Internal: false,
  Attachable: false,
  Ingress: false,
  Options: {},
  Labels: {},
};

// Each node's bridge joined through the mesh spans the cluster, which is what Swarm users mean by overlay.
const DRIVER = 'overlay';
const SCOPE = 'swarm';

export function networkToDocker(network: Network): Json {
  return {
    Name: network.name,
    Id: network.id,
    Created: dockerTime(network.meta?.createdAt),
    Scope: SCOPE,
    Driver: DRIVER,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: [] },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: {},
    Options: {},
    Labels: { ...(network.labels ?? {}) },
  };
}

/** A network create request from Docker's NetworkCreateRequest: its name and labels; anything pisched networks cannot be is refused. */
export function networkCreateFromDocker(input: unknown): { name: string; labels: Record<string, string> } {
  const path = 'NetworkCreate';
  const spec = onlyKnown(input, path, ['Name', 'CheckDuplicate', 'Driver', 'Scope', 'Labels', 'IPAM', 'EnableIPv4', 'Internal', 'Attachable', 'Ingress', 'EnableIPv6', 'Options', 'ConfigOnly', 'ConfigFrom']);
  const driver = str(spec.Driver, `${path}.Driver`);
  if (driver !== '' && driver !== 'overlay' && driver !== 'bridge') {
    throw badRequest(`${path}.Driver "${driver}" is not supported by pisched (overlay or bridge: a pisched network spans the cluster through the mesh)`);
  }
  const scope = str(spec.Scope, `${path}.Scope`);
  if (scope !== '' && scope !== SCOPE) throw badRequest(`${path}.Scope "${scope}" is not supported by pisched (swarm: a pisched network spans the cluster)`);
  const ipam = onlyKnown(spec.IPAM, `${path}.IPAM`, ['Driver']);
  const ipamDriver = str(ipam.Driver, `${path}.IPAM.Driver`);
  if (ipamDriver !== '' && ipamDriver !== 'default') throw badRequest(`${path}.IPAM.Driver "${ipamDriver}" is not supported by pisched (each node's engine assigns addresses)`);
  // Pointer fields in Go: an explicit true is what the CLI sends by default, and all pisched networks have IPv4.
  if (spec.EnableIPv4 != null && spec.EnableIPv4 !== true) throw badRequest(`${path}.EnableIPv4 false is not supported by pisched`);
  for (const field of ['Internal', 'Attachable', 'Ingress', 'EnableIPv6', 'Options', 'ConfigOnly', 'ConfigFrom']) {
    if (isSet(spec[field])) throw badRequest(`${path}.${field} is not supported by pisched${field === 'Attachable' ? ': only services join pisched networks' : ''}`);
  }
  return { name: str(spec.Name, `${path}.Name`), labels: stringMap(spec.Labels, `${path}.Labels`) };
}

/** Finds the network an attachment's Target names: its name, id or unique id prefix. */
export type NetworkLookup = (target: string) => Network | undefined;

/**
 * A service's networks from Docker's attachments: pisched network names, or
 * the host's network alone. `service` is what pisched derives aliases from.
 */
export function serviceNetworksFromDocker(
  spec: Json,
  template: Json,
  lookup: NetworkLookup,
  service: { name: string; containerLabels: Record<string, string> },
): { network: string; networks: string[] } {
  const inTemplate = list(template.Networks, 'Spec.TaskTemplate.Networks');
  const inSpec = list(spec.Networks, 'Spec.Networks');
  if (inTemplate.length > 0 && inSpec.length > 0) throw badRequest('Spec.Networks and Spec.TaskTemplate.Networks are both set: give Spec.TaskTemplate.Networks only');
  const path = inTemplate.length > 0 ? 'Spec.TaskTemplate.Networks' : 'Spec.Networks';
  const attachments = (inTemplate.length > 0 ? inTemplate : inSpec).map((entry, i) => {
    const at = `${path}[${i}]`;
    const attachment = onlyKnown(entry, at, ['Target', 'Aliases']);
    const target = str(attachment.Target, `${at}.Target`);
    if (target === '') throw badRequest(`${at}.Target is required`);
    return { at, target, aliases: strings(attachment.Aliases, `${at}.Aliases`) };
  });
  if (attachments.some((a) => a.target === 'host')) {
    if (attachments.length > 1) throw badRequest(`${path}: the host network cannot be joined with another (a container on the node's network joins no other)`);
    if (attachments[0].aliases.length > 0) throw badRequest(`${path}[0].Aliases is not supported by pisched on the host network`);
    return { network: 'host', networks: [] };
  }
  const networks = attachments.map(({ target }) => {
    const found = lookup(target);
    if (!found) throw new DockerApiError(404, `network ${target} not found`);
    return found.name;
  });
  const given = stackAliases({ name: service.name, networks, container: { labels: service.containerLabels } as ServiceSpec['container'] });
  for (const { at, aliases } of attachments) {
    const other = aliases.filter((alias) => !given.includes(alias));
    if (other.length > 0) {
      throw badRequest(`${at}.Aliases ${other.join(', ')} is not supported by pisched: a service answers to its name on its networks, and a stack's service STACK_KEY also to KEY`);
    }
  }
  return { network: '', networks };
}

/** A service's attachments as Docker shows them, with network ids and the aliases pisched gives. */
export function serviceNetworksToDocker(spec: ServiceSpec, networkId: (name: string) => string): Json[] | undefined {
  if (spec.container?.network === 'host') return [{ Target: 'host' }];
  const names = spec.networks ?? [];
  if (names.length === 0) return undefined;
  const aliases = stackAliases(spec);
  return names.map((name) => ({ Target: networkId(name) || name, ...(aliases.length > 0 ? { Aliases: [...aliases] } : {}) }));
}
