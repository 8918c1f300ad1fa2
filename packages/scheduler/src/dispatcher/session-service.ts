import type * as grpc from '@grpc/grpc-js';
import { loadGrpc } from '@pisched/api';
import { decodeAgentMessage } from '@pisched/api/dist/scheduler-decoders';

/**
 * The Dispatcher service as a scheduler serves it: the reflection's
 * definition, with what the agents send on their sessions read in one pass
 * straight to the plain object (api's scheduler-decoders.ts). The leader
 * reads every agent's status reports: decoded by protobufjs and then copied
 * by toObject, they were 3.8 % of its busy time in a 10k-task burst (issue
 * #17, round 13). The same objects either way (scheduler-decoders.test.ts).
 */
export function dispatcherService(): grpc.ServiceDefinition {
  const service = loadGrpc().Dispatcher.service;
  return { ...service, Session: { ...service.Session!, requestDeserialize: (bytes: Buffer) => decodeAgentMessage(bytes) } };
}
