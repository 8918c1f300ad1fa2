import * as grpc from '@grpc/grpc-js';
import { validateNetworkName, type ControlHandlers, type Network, type ServiceSpec } from '@pisched/api';
import type { Store } from '../store/store';
import type { StateMachine } from '../store/state-machine';
import type { Clock } from '../orchestrator/task-factory';
import { ApiError, notFound } from './grpc-errors';
import { unary } from './unary';
import { objectLabels } from './object-labels';

export type NetworkCalls = 'CreateNetwork' | 'ListNetworks' | 'RemoveNetwork';

/** A network by id or name. */
export function findNetwork(state: StateMachine, nameOrId: string): Network | undefined {
  const byId = state.networks.get(nameOrId);
  if (byId) return byId;
  for (const network of state.networks.values()) if (network.name === nameOrId) return network;
  return undefined;
}

/**
 * Refuses a spec joining a network the store does not hold. Read from the
 * state the write is checked against, so a network removed at the same moment cannot slip through.
 */
export function checkNetworksExist(state: StateMachine, spec: ServiceSpec): void {
  for (const name of spec.networks ?? []) {
    if (!findNetwork(state, name)) throw new ApiError(grpc.status.NOT_FOUND, `network ${name} not found: create it first (pisched network create ${name})`);
  }
}

/** The services on a network: in their spec, or through a task still running an older spec. */
function servicesOn(state: StateMachine, name: string): string[] {
  const names = new Set<string>();
  for (const service of state.services.values()) if (service.spec?.networks?.includes(name)) names.add(service.spec.name);
  for (const task of state.tasks.values()) {
    if (task.desiredState === 'RUNNING' && task.spec?.networks?.includes(name)) names.add(task.serviceName);
  }
  return [...names].sort();
}

/** Networks, as Swarm's: created, listed, removed only while no service is on them. */
export function networkHandlers(store: Store, clock: Clock): Pick<ControlHandlers, NetworkCalls> {
  return {
    CreateNetwork: unary(async (request) => {
      const name = validateNetworkName(request.name ?? '');
      const labels = objectLabels('network', request.labels);
      const id = clock.newId();
      const now = clock.now();
      await store.update((state) => {
        if (findNetwork(state, name)) throw new ApiError(grpc.status.ALREADY_EXISTS, `network name ${name} is already in use`);
        const network: Network = { id, meta: { version: 0, createdAt: now, updatedAt: now }, name, labels };
        return [{ action: 'putNetwork', putNetwork: network }];
      });
      return { network: store.state.networks.get(id) };
    }),
    ListNetworks: unary(() => ({ networks: [...store.state.networks.values()].sort((a, b) => a.name.localeCompare(b.name)) })),
    RemoveNetwork: unary(async (request) => {
      const nameOrId = request.name ?? '';
      if (!nameOrId) throw new ApiError(grpc.status.INVALID_ARGUMENT, 'a network name or id is required');
      await store.update((state) => {
        const network = findNetwork(state, nameOrId);
        if (!network) throw notFound(`network ${nameOrId}`);
        const users = servicesOn(state, network.name);
        if (users.length > 0) {
          throw new ApiError(grpc.status.FAILED_PRECONDITION, `network ${network.name} is in use by service${users.length > 1 ? 's' : ''} ${users.join(', ')}: remove them from it first`);
        }
        return [{ action: 'removeNetwork', removeNetwork: network.id }];
      });
      return {};
    }),
  };
}
