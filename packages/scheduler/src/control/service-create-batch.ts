import * as grpc from '@grpc/grpc-js';
import type { Service, StoreAction } from '@pisched/api';
import type { Gathering } from '../store/gathered-writes';
import type { StateMachine } from '../store/state-machine';
import { ApiError } from './grpc-errors';
import { checkPrivilegedAllowed } from './privileged-gate';
import { checkFileReferences } from './file-object-use';
import { checkPortsFree } from './port-gate';
import { checkNetworksExist } from './network-handlers';
import { findService } from './find-service';

/**
 * Services created together, written as one command (see GatheredWrites): a
 * burst of `pisched run`s or a client creating many services at once paid one
 * commit each, one after another. Each is checked as if written alone after
 * the ones before it in the command, so of two with the same name or the
 * same published port only the first is created, as when they came one by one.
 */
export function gatherServiceCreates(state: StateMachine): Gathering<Service> {
  const created: Service[] = [];
  return {
    add(service) {
      const spec = service.spec!;
      if (findService(state, spec.name) || created.some((other) => other.spec!.name === spec.name)) {
        throw new ApiError(grpc.status.ALREADY_EXISTS, `service name ${spec.name} is already in use`);
      }
      checkPrivilegedAllowed(state, spec);
      checkFileReferences(state, spec);
      checkPortsFree(state, spec, service.id, created);
      checkNetworksExist(state, spec);
      created.push(service);
    },
    actions: (): StoreAction[] => created.map((service) => ({ action: 'putService', putService: service })),
  };
}
