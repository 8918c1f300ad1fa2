import * as grpc from '@grpc/grpc-js';
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createClusterCa, issueCertificate, type ClusterCa } from '../src/security/cluster-ca';
import { createNodeKeyRequest } from '../src/security/node-key';
import { authorize, channelCredentials, CLUSTER_CHANNEL_OPTIONS, joiningChannelCredentials, serverCredentials, type TlsIdentity } from '../src/security/grpc-credentials';
import type { Role } from '../src/security/roles';

// A one-method service answering with who the caller is, or PERMISSION_DENIED for a non-admin.
const bytes = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };
const whoAmI = {
  WhoAmI: {
    path: '/test.Security/WhoAmI',
    requestStream: false,
    responseStream: false,
    requestSerialize: bytes.serialize,
    requestDeserialize: bytes.deserialize,
    responseSerialize: bytes.serialize,
    responseDeserialize: bytes.deserialize,
  },
};
const Client = grpc.makeGenericClientConstructor(whoAmI, 'Security') as unknown as new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options: grpc.ChannelOptions,
) => grpc.Client & { WhoAmI(req: Buffer, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Buffer) => void): void };

async function identity(ca: ClusterCa, nodeId: string, role: Role): Promise<TlsIdentity> {
  const { keyPem, csrPem } = await createNodeKeyRequest(nodeId);
  return { caPem: ca.certPem, keyPem, certPem: await issueCertificate(ca, { csrPem, nodeId, role }) };
}

async function serve(id: TlsIdentity, requireClientCert: boolean): Promise<{ server: grpc.Server; address: string }> {
  const server = new grpc.Server();
  server.addService(whoAmI, {
    WhoAmI: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      const caller = authorize(call, ['admin'], 'WhoAmI');
      if (caller instanceof Error) callback(caller);
      else callback(null, Buffer.from(`${caller.role}:${caller.nodeId}`));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', serverCredentials(id, { requireClientCert }), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { server, address: `127.0.0.1:${port}` };
}

function ask(address: string, credentials: grpc.ChannelCredentials): Promise<string> {
  const client = new Client(address, credentials, CLUSTER_CHANNEL_OPTIONS);
  return new Promise<string>((resolve, reject) =>
    client.WhoAmI(Buffer.alloc(0), { deadline: Date.now() + 5000 }, (error, reply) => {
      client.close();
      if (error) reject(error);
      else resolve(reply!.toString());
    }),
  ).catch((error: grpc.ServiceError) => `${grpc.status[error.code]}: ${error.details}`);
}

describe('gRPC credentials', () => {
  let ca: ClusterCa;
  let other: ClusterCa;
  let optional: { server: grpc.Server; address: string };
  let required: { server: grpc.Server; address: string };

  beforeAll(async () => {
    ca = await createClusterCa();
    other = await createClusterCa();
    const manager = await identity(ca, 's1', 'manager');
    optional = await serve(manager, false);
    required = await serve(manager, true);
  });
  afterAll(() => {
    optional?.server.forceShutdown();
    required?.server.forceShutdown();
  });

  it('an admin certificate of the cluster is seen by the server with its node id and role', async () => {
    const admin = await identity(ca, 'admin-1', 'admin');
    expect(await ask(optional.address, channelCredentials(admin))).toBe('admin:admin-1');
    expect(await ask(required.address, channelCredentials(admin))).toBe('admin:admin-1');
  });

  it('another role is refused with PERMISSION_DENIED naming the role needed', async () => {
    const worker = await identity(ca, 'pi-1', 'worker');
    expect(await ask(optional.address, channelCredentials(worker))).toBe(
      'PERMISSION_DENIED: WhoAmI needs an admin certificate of this cluster; the caller presented a worker certificate (pi-1)',
    );
  });

  it('a client without a certificate reaches the optional-certificate server but has no rights, and not the other', async () => {
    expect(await ask(optional.address, joiningChannelCredentials(ca.certPem))).toMatch(/^PERMISSION_DENIED: .*presented no cluster certificate$/);
    expect(await ask(required.address, joiningChannelCredentials(ca.certPem))).toMatch(/^UNAVAILABLE/);
  });

  it('a certificate from another CA counts as none, or is refused at the handshake', async () => {
    const stranger = { ...(await identity(other, 'admin-1', 'admin')), caPem: ca.certPem };
    expect(await ask(optional.address, channelCredentials(stranger))).toMatch(/presented no cluster certificate$/);
    expect(await ask(required.address, channelCredentials(stranger))).toMatch(/^UNAVAILABLE/);
  });

  it('a plaintext client is refused at the handshake', async () => {
    expect(await ask(optional.address, grpc.credentials.createInsecure())).toMatch(/^UNAVAILABLE/);
  });

  it('a client refuses a server of another CA, and a server without a manager certificate', async () => {
    const admin = await identity(ca, 'admin-1', 'admin');
    const foreign = await serve(await identity(other, 's1', 'manager'), false);
    const workerServer = await serve(await identity(ca, 'pi-9', 'worker'), false);
    try {
      expect(await ask(foreign.address, channelCredentials(admin))).toMatch(/^UNAVAILABLE/);
      expect(await ask(workerServer.address, channelCredentials(admin))).toMatch(/^UNAVAILABLE/);
    } finally {
      foreign.server.forceShutdown();
      workerServer.server.forceShutdown();
    }
  });

  it('reads a connection\'s certificate once, whatever the calls on it, and each connection its own', async () => {
    const calls = (client: InstanceType<typeof Client>, n: number) =>
      Promise.all(
        Array.from({ length: n }, () =>
          new Promise<string>((resolve, reject) =>
            client.WhoAmI(Buffer.alloc(0), { deadline: Date.now() + 5000 }, (error, reply) => (error ? reject(error) : resolve(reply!.toString()))),
          ),
        ),
      );
    const alice = new Client(optional.address, channelCredentials(await identity(ca, 'admin-a', 'admin')), CLUSTER_CHANNEL_OPTIONS);
    const bob = new Client(optional.address, channelCredentials(await identity(ca, 'admin-b', 'admin')), CLUSTER_CHANNEL_OPTIONS);
    const read = vi.spyOn(tls.TLSSocket.prototype, 'getPeerCertificate');
    try {
      // Each connection's first call: the client checks the server's certificate, the server reads the client's.
      expect(await calls(alice, 1)).toEqual(['admin:admin-a']);
      expect(await calls(bob, 1)).toEqual(['admin:admin-b']);
      read.mockClear();
      const [a, b] = await Promise.all([calls(alice, 5), calls(bob, 5)]);
      expect(a).toEqual(Array(5).fill('admin:admin-a'));
      expect(b).toEqual(Array(5).fill('admin:admin-b'));
      expect(read).not.toHaveBeenCalled();
    } finally {
      read.mockRestore();
      alice.close();
      bob.close();
    }
  });

  it('speaks TLS 1.3 only', async () => {
    const [host, port] = optional.address.split(':');
    const outcome = await new Promise<string>((resolve) => {
      const socket = tls.connect({ host, port: Number(port), maxVersion: 'TLSv1.2', rejectUnauthorized: false, ALPNProtocols: ['h2'] });
      socket.once('secureConnect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (error) => resolve(`refused: ${error.message}`));
    });
    expect(outcome).toMatch(/^refused/);
  });
});
