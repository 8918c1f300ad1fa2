import { portKey, type MeshService, type MeshUpdate } from '@pisched/api';

/** One place a published port's connections may go: a task's host port on its node. */
export interface Backend {
  taskId: string;
  address: string;
  port: number;
}

/** A published ingress port and the backends behind it. */
export interface Route {
  /** "8080/tcp" */
  key: string;
  publishedPort: number;
  protocol: 'tcp' | 'udp';
  serviceName: string;
  backends: Backend[];
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

  /** Every ingress port with its backends: a task's host port for the port's target and protocol. */
  routes(): Route[] {
    const routes: Route[] = [];
    for (const service of this.services.values()) {
      for (const port of service.ports) {
        const protocol = port.protocol === 'udp' ? 'udp' : 'tcp';
        const backends: Backend[] = [];
        for (const backend of service.backends) {
          const bound = backend.ports.find((p) => p.targetPort === port.targetPort && (p.protocol || 'tcp') === protocol);
          if (bound) backends.push({ taskId: backend.taskId, address: backend.address, port: bound.publishedPort });
        }
        routes.push({ key: portKey(port), publishedPort: port.publishedPort, protocol, serviceName: service.serviceName, backends });
      }
    }
    return routes;
  }
}
