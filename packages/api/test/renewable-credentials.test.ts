import * as grpc from '@grpc/grpc-js';
import * as tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClusterCa, issueIdentity, type ClusterCa } from '../src/security/cluster-ca';
import { CLUSTER_CHANNEL_OPTIONS, channelCredentials, clusterChannel, serverCredentials, type TlsIdentity } from '../src/security/grpc-credentials';
import { RenewableIdentity } from '../src/security/renewable-identity';

// A one-method service answering with the serial of the certificate the caller's connection was made with.
const bytes = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };
const serialService = {
  Serial: { path: '/test.Renewal/Serial', requestStream: false, responseStream: false, requestSerialize: bytes.serialize, requestDeserialize: bytes.deserialize, responseSerialize: bytes.serialize, responseDeserialize: bytes.deserialize },
};
const Client = grpc.makeGenericClientConstructor(serialService, 'Renewal') as unknown as new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options: grpc.ChannelOptions,
) => grpc.Client & { Serial(req: Buffer, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Buffer) => void): void };

const serial = (identity: TlsIdentity) => new X509Certificate(identity.certPem).serialNumber.toLowerCase();

function callerSerial(client: InstanceType<typeof Client>): Promise<string> {
  return new Promise((resolve, reject) =>
    client.Serial(Buffer.alloc(0), { deadline: Date.now() + 5000 }, (error, reply) => (error ? reject(error) : resolve(reply!.toString()))),
  );
}

/** The serial of the certificate the server presents on a new connection. */
function presentedSerial(address: string, client: TlsIdentity): Promise<string> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host, port: Number(port), ca: client.caPem, cert: client.certPem, key: client.keyPem, ALPNProtocols: ['h2'], servername: 'pisched', checkServerIdentity: () => undefined });
    socket.once('secureConnect', () => {
      const presented = socket.getPeerCertificate().serialNumber.toLowerCase();
      socket.end();
      resolve(presented);
    });
    socket.once('error', reject);
  });
}

describe('renewable credentials', () => {
  let ca: ClusterCa;
  let server: grpc.Server;
  let address: string;
  let member: RenewableIdentity;

  beforeAll(async () => {
    ca = await createClusterCa();
    member = new RenewableIdentity(await issueIdentity(ca, 's1', 'manager'));
    server = new grpc.Server();
    server.addService(serialService, {
      Serial: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) =>
        callback(null, Buffer.from((call.getAuthContext().sslPeerCertificate?.serialNumber ?? 'none').toLowerCase())),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', serverCredentials(member, { requireClientCert: true }), (e, p) => (e ? reject(e) : resolve(p))),
    );
    address = `127.0.0.1:${port}`;
  });
  afterAll(() => server?.forceShutdown());

  it('a server presents the renewed certificate from the next handshake on, without a restart, and still requires a client certificate', async () => {
    const admin = await issueIdentity(ca, 'admin', 'admin');
    const before = serial(member.current);
    expect(await presentedSerial(address, admin)).toBe(before);
    member.replace(await issueIdentity(ca, 's1', 'manager'));
    expect(serial(member.current)).not.toBe(before);
    expect(await presentedSerial(address, admin)).toBe(serial(member.current));
    // requestCert and rejectUnauthorized outlive the new context: a client without a certificate is still refused.
    const withoutCert = new Client(address, grpc.credentials.createSsl(Buffer.from(ca.certPem)), CLUSTER_CHANNEL_OPTIONS);
    await expect(callerSerial(withoutCert)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    withoutCert.close();
  });

  it('a channel keeps its connection and presents the renewed certificate on its next connection', async () => {
    const node = new RenewableIdentity(await issueIdentity(ca, 'pi-1', 'worker'));
    const credentials = channelCredentials(node);
    const first = new Client(address, credentials, { ...CLUSTER_CHANNEL_OPTIONS, 'grpc.use_local_subchannel_pool': 1 });
    const old = serial(node.current);
    expect(await callerSerial(first)).toBe(old);
    node.replace(await issueIdentity(ca, 'pi-1', 'worker'));
    // The established connection was verified with the old certificate and stays as it was.
    expect(await callerSerial(first)).toBe(old);
    first.close();
    const second = new Client(address, credentials, { ...CLUSTER_CHANNEL_OPTIONS, 'grpc.use_local_subchannel_pool': 1 });
    expect(await callerSerial(second)).toBe(serial(node.current));
    second.close();
  });

  it("a cluster channel's TLS options keep one secure context per certificate: the same until renewal, a new one after it", async () => {
    const node = new RenewableIdentity(await issueIdentity(ca, 'pi-2', 'worker'));
    const channel = clusterChannel(node);
    const first = channel.tls();
    expect(channel.tls()).toBe(first);
    expect(channel.tls().secureContext).toBe(first.secureContext);
    node.replace(await issueIdentity(ca, 'pi-2', 'worker'));
    const renewed = channel.tls();
    expect(renewed.secureContext).not.toBe(first.secureContext);
    expect(channel.tls()).toBe(renewed);
    // The context is the renewed certificate's: a server of the cluster sees it.
    const client = new Client(address, channel.credentials, { ...channel.options, 'grpc.use_local_subchannel_pool': 1 });
    expect(await callerSerial(client)).toBe(serial(node.current));
    client.close();
  });
});
