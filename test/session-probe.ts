import * as grpc from '@grpc/grpc-js';
import { CLUSTER_CHANNEL_OPTIONS, loadGrpc } from '@pisched/api';

/**
 * Opens a dispatcher session registering as nodeId, as an agent would;
 * resolves with how the scheduler ended it ("CODE: details"), or what it
 * first sent ('accepted').
 */
export function session(address: string, credentials: grpc.ChannelCredentials, nodeId: string): Promise<string> {
  const client = new (loadGrpc().Dispatcher)(address, credentials, CLUSTER_CHANNEL_OPTIONS) as unknown as grpc.Client & {
    Session(options: grpc.CallOptions): grpc.ClientDuplexStream<object, { accepted?: unknown }>;
  };
  return new Promise<string>((resolve) => {
    const call = client.Session({ deadline: Date.now() + 5_000 });
    const done = (outcome: string) => {
      call.cancel();
      client.close();
      resolve(outcome);
    };
    call.on('data', (message: { accepted?: unknown }) => done(message.accepted ? 'accepted' : 'answered'));
    call.on('error', (error: grpc.ServiceError) => done(`${grpc.status[error.code]}: ${error.details}`));
    call.write({ register: { nodeId, description: { hostname: 'x', platform: { os: 'linux', architecture: 'x86_64' }, resources: { cpus: 1, memoryBytes: 1 } } } });
  });
}
