import { ingressPorts, stackAliases, vipPorts, type PortConfig, type Service, type MeshBackend, type MeshService, type MeshUpdateInput, type Task } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';

/**
 * Whether the routing mesh may send new connections to a task: running, not
 * on its way out (desired state past running: an update, a scale-down, a
 * drain or rm is about to stop it, so it leaves before its container gets the
 * stop signal), not failing or still starting its health check, its ports known.
 */
function servesTraffic(task: Task, entry: MeshService): boolean {
  const status = task.status;
  if (!status || status.state !== 'RUNNING' || task.desiredState !== 'RUNNING') return false;
  if (status.health === 'starting' || status.health === 'unhealthy') return false;
  // A service with no port at all (a client) is still a name: tasks.NAME lists its tasks.
  return status.ingressPorts.length > 0 || (entry.ports.length === 0 && entry.vipPorts.length === 0);
}

/**
 * The mesh's endpoint table: every service with ingress ports or on a pisched
 * network, and where its serving tasks are reached (their node's address, on
 * a ready node: a node down past its heartbeat grace leaves every other node's rotation).
 */
export function meshTable(state: StateMachine): Map<string, MeshService> {
  const table = new Map<string, MeshService>();
  for (const service of state.services.values()) {
    const spec = service.spec;
    const ports = ingressPorts(spec);
    const networks = spec?.networks ?? [];
    if (ports.length === 0 && networks.length === 0) continue;
    table.set(service.id, {
      serviceId: service.id,
      serviceName: spec!.name,
      ports,
      backends: [],
      networks,
      endpointMode: spec!.endpointMode || 'vip',
      vipPorts: vipPorts(spec),
      preferLocal: spec!.lbPreferLocal ?? false,
      aliases: stackAliases(spec!),
    });
  }
  // Made at every push: without an ingress service there is no reason to look at every task.
  if (table.size === 0) return table;
  for (const task of state.tasks.values()) {
    const entry = table.get(task.serviceId);
    if (!entry || !servesTraffic(task, entry)) continue;
    const node = state.nodes.get(task.nodeId);
    if (!node || node.state !== 'READY' || !node.address) continue;
    const backend: MeshBackend = { taskId: task.id, nodeId: node.id, address: node.address, ports: task.status!.ingressPorts };
    entry.backends.push(backend);
  }
  for (const entry of table.values()) {
    entry.backends.sort((a, b) => a.taskId.localeCompare(b.taskId));
    const spec = state.services.get(entry.serviceId)!.spec;
    if (entry.networks.length > 0) entry.vipPorts = vipPorts({ ...spec!, expose: [...(spec!.expose ?? []), ...reportedPorts(entry.backends)] });
  }
  return table;
}

/**
 * The ports a service's tasks report, in port order (so the table, and its
 * fingerprint, do not change with the order tasks reported in): beside the
 * spec's, those their images expose, which a VIP forwards too (Swarm's VIP
 * forwards every port; a spec made by `docker service create --network` or
 * Compose often names none).
 */
function reportedPorts(backends: MeshBackend[]): PortConfig[] {
  return backends.flatMap((backend) => backend.ports).sort((a, b) => a.targetPort - b.targetPort || a.protocol.localeCompare(b.protocol));
}

/** What one session was last sent: a fingerprint per service id. Never changed once made: sessions share it. */
export type MeshSent = ReadonlyMap<string, string>;

/**
 * The table's fingerprints, made once per push for every session rather than
 * once per session: `previous` itself when nothing in it changed, so that a
 * session already sent it is passed over by identity. Pushes follow every
 * applied change, and comparing the table for each of 1,000 sessions each
 * time was 0.4 s of a leader's CPU in a 10,000-task burst (issue #17), with
 * no ingress service at all.
 */
export function meshPrints(table: Map<string, MeshService>, previous?: MeshSent): MeshSent {
  const prints = new Map<string, string>();
  let same = previous !== undefined && previous.size === table.size;
  for (const [id, entry] of table) {
    const print = JSON.stringify(entry);
    prints.set(id, print);
    if (same && previous!.get(id) !== print) same = false;
  }
  return same ? previous! : prints;
}

/**
 * The update that brings a session from what it was sent (undefined: nothing
 * yet) to the table: the whole table the first time, else only the services
 * that changed or went; no update when nothing did. Also what it has been sent then.
 */
export function meshDelta(table: Map<string, MeshService>, sent: MeshSent | undefined, prints = meshPrints(table)): { update?: MeshUpdateInput; sent: MeshSent } {
  if (sent === prints) return { sent };
  const services: MeshService[] = [];
  for (const [id, entry] of table) if (sent === undefined || sent.get(id) !== prints.get(id)) services.push(entry);
  if (sent === undefined) return { update: { full: true, services, removedServices: [] }, sent: prints };
  const removedServices = [...sent.keys()].filter((id) => !prints.has(id));
  // The same contents: the session holds these fingerprints now, and is passed over by identity next time.
  if (services.length === 0 && removedServices.length === 0) return { sent: prints };
  return { update: { full: false, services, removedServices }, sent: prints };
}
