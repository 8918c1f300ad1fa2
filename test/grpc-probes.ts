import * as grpc from '@grpc/grpc-js';
import { CLUSTER_CHANNEL_OPTIONS, loadGrpc } from '@pisched/api';

/*
 * Calls as a client of the cluster would make them, with the credentials a
 * test chooses, each resolving with how the scheduler answered ("CODE:
 * details", or OK): for tests of who is refused and how.
 */

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

type Unary = (request: object, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, value?: unknown) => void) => void;

export function controlCall(address: string, credentials: grpc.ChannelCredentials, method: string, request: object = {}): Promise<string> {
  const client = new (loadGrpc().Control)(address, credentials, CLUSTER_CHANNEL_OPTIONS) as unknown as grpc.Client & Record<string, Unary>;
  return new Promise<string>((resolve) =>
    client[method].call(client, request, { deadline: Date.now() + 5_000 }, (error) => {
      client.close();
      resolve(error ? `${grpc.status[error.code]}: ${error.details}` : 'OK');
    }),
  );
}

/** One client stream on the Raft port, sending an empty batch; resolves with how it ended. */
export function raftStream(address: string, credentials: grpc.ChannelCredentials): Promise<string> {
  const Raft = grpc.makeGenericClientConstructor(
    {
      Stream: {
        path: '/pisched.raft.v1.RaftTransport/Stream',
        requestStream: true,
        responseStream: false,
        requestSerialize: (value: Buffer) => value,
        requestDeserialize: (value: Buffer) => value,
        responseSerialize: (value: Buffer) => value,
        responseDeserialize: (value: Buffer) => value,
      },
    },
    'RaftTransport',
  );
  const client = new Raft(address, credentials, CLUSTER_CHANNEL_OPTIONS) as unknown as grpc.Client & {
    Stream(options: grpc.CallOptions, callback: (error: grpc.ServiceError | null) => void): grpc.ClientWritableStream<Buffer>;
  };
  return new Promise<string>((resolve) => {
    const call = client.Stream({ deadline: Date.now() + 5_000 }, (error) => {
      client.close();
      resolve(error ? `${grpc.status[error.code]}: ${error.details}` : 'OK');
    });
    call.write(Buffer.alloc(0));
    call.end();
  });
}
