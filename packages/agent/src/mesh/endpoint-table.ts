import { portKey, type MeshService, type MeshUpdate } from '@pisched/api';

/** One place a published port's connections may go: a task's host port on its node. */
export interface Backend {
  taskId: string;
  address: string;
  port: number;
  /** On this node (its address is the node's): what --lb-prefer-local prefers. */
  local?: boolean;
}

/** A published ingress port and the backends behind it. */
export interface Route {
  /** "8080/tcp" for an ingress port; "198.18.0.5:80/tcp" for a VIP's. */
  key: string;
  /** Where to listen; absent = the node's address (an ingress port). */
  address?: string;
  publishedPort: number;
  protocol: 'tcp' | 'udp';
  serviceName: string;
  backends: Backend[];
  /** Try the backends on this node first (ServiceSpec.lb_prefer_local). */
  preferLocal?: boolean;
}

/**
 * The agent's copy of the routing mesh's endpoint table, kept from the
 * scheduler's updates. It is kept while no scheduler can be reached: the
 * data plane goes on with the last known backends.
 */
export class EndpointTable {
  private readonly services = new Map<string, MeshService>();

  apply(update: MeshUpdate): void {
    if (update.full) this.services.clear();
    for (const id of update.removedServices) this.services.delete(id);
    for (const service of update.services) this.services.set(service.serviceId, service);
  }

  all(): Iterable<MeshService> {
    return this.services.values();
  }

  /** Every ingress port with its backends: a task's host port for the port's target and protocol. */
  routes(localAddress = ''): Route[] {
    const routes: Route[] = [];
    for (const service of this.services.values()) {
      for (const port of service.ports) {
        const protocol = port.protocol === 'udp' ? 'udp' : 'tcp';
        const backends = backendsFor(service, port.targetPort, protocol, localAddress);
        routes.push({ key: portKey(port), publishedPort: port.publishedPort, protocol, serviceName: service.serviceName, backends, preferLocal: service.preferLocal });
      }
    }
    return routes;
  }
}

/** Where a service's target port is reached on each serving task: the host port the task reported for it. */
export function backendsFor(service: MeshService, targetPort: number, protocol: string, localAddress: string): Backend[] {
  const backends: Backend[] = [];
  for (const backend of service.backends) {
    const bound = backend.ports.find((p) => p.targetPort === targetPort && (p.protocol || 'tcp') === protocol);
    if (bound) backends.push({ taskId: backend.taskId, address: backend.address, port: bound.publishedPort, local: localAddress !== '' && backend.address === localAddress });
  }
  return backends;
}
