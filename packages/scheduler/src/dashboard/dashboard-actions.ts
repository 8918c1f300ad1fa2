import * as grpc from '@grpc/grpc-js';
import type { Service } from '@pisched/api';
import { ControlCallError, type InProcessControl } from '../control/in-process-control';

/** Someone else changing the same service between our read and write is rare; a few tries settle it (as pisched scale does). */
const MAX_ATTEMPTS = 5;

/**
 * What a person can do from the page in a hurry. Each goes through the
 * Control API's own handlers, so the checks and store commands are the
 * CLI's; only the shape of the page's request is checked here.
 */
export function dashboardActions(control: InProcessControl) {
  return {
    async scale(service: string, replicas: unknown): Promise<string> {
      if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
        throw new ControlCallError(grpc.status.INVALID_ARGUMENT, 'replicas must be a whole number of 0 or more');
      }
      for (let attempt = 1; ; attempt++) {
        const { service: current } = await control.unary<{ service: Service }>('GetService', { service });
        try {
          await control.unary('UpdateService', { service: current.id, version: current.meta?.version ?? 0, spec: { ...current.spec, replicas } });
          return `${current.spec!.name} scaled to ${replicas}`;
        } catch (error) {
          if (!(error instanceof ControlCallError) || error.code !== grpc.status.ABORTED || attempt >= MAX_ATTEMPTS) throw error;
        }
      }
    },

    async rollback(service: string): Promise<string> {
      const { service: rolled } = await control.unary<{ service: Service }>('RollbackService', { service });
      return `${rolled.spec!.name} rolling back to its previous spec`;
    },

    async availability(node: string, availability: unknown): Promise<string> {
      if (typeof availability !== 'string') throw new ControlCallError(grpc.status.INVALID_ARGUMENT, 'availability must be active, pause or drain');
      await control.unary('UpdateNode', { node, availability, labelAdd: {}, labelRm: [] });
      return `node ${node} is now ${availability.toLowerCase()}`;
    },
  };
}

export type DashboardActions = ReturnType<typeof dashboardActions>;
