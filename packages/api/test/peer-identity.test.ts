import { X509Certificate, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createClusterCa, issueCertificate } from '../src/security/cluster-ca';
import { callerCertificateExpiry, callerIdentity } from '../src/security/grpc-credentials';
import { createNodeKeyRequest } from '../src/security/node-key';
import { peerIdentity } from '../src/security/peer-identity';

async function workerCertificate(nodeId: string): Promise<X509Certificate> {
  const ca = await createClusterCa();
  const { csrPem } = await createNodeKeyRequest(nodeId);
  return new X509Certificate(await issueCertificate(ca, { csrPem, nodeId, role: 'worker' }));
}

describe('peerIdentity', () => {
  it('reads a certificate as a TLS socket shows it (getPeerCertificate) as it reads its bytes', async () => {
    const cert = await workerCertificate('pi-shown');
    // toLegacyObject is the object getPeerCertificate hands over: raw, subjectaltname, serialNumber, …
    const shown = cert.toLegacyObject();
    expect(peerIdentity(shown)).toEqual({ nodeId: 'pi-shown', role: 'worker', serial: cert.serialNumber.toLowerCase() });
    const again = await workerCertificate('pi-bytes');
    expect(peerIdentity(again.raw)).toEqual({ nodeId: 'pi-bytes', role: 'worker', serial: again.serialNumber.toLowerCase() });
  });

  it('takes the fields TLS already read and does not parse the bytes again', () => {
    // Bytes no parser accepts: only the shown fields can name this peer.
    const shown = { raw: randomBytes(64), subjectaltname: 'URI:pisched://node/pi-fields, URI:pisched://role/worker, IP Address:127.0.0.1', serialNumber: 'ABC123' };
    expect(peerIdentity(shown)).toEqual({ nodeId: 'pi-fields', role: 'worker', serial: 'abc123' });
    expect(peerIdentity({ raw: randomBytes(64), subjectaltname: 'URI:pisched://node/a, URI:pisched://node/b, URI:pisched://role/worker', serialNumber: '01' })).toBeUndefined();
  });
});

describe('callerIdentity and callerCertificateExpiry', () => {
  it('ask a call for its peer certificate once, however often they are asked', async () => {
    const cert = await workerCertificate('pi-once');
    let asks = 0;
    const call = {
      getAuthContext: () => {
        asks += 1;
        return { sslPeerCertificate: cert.toLegacyObject() };
      },
    };
    expect(callerIdentity(call)?.nodeId).toBe('pi-once');
    expect(callerCertificateExpiry(call)).toBe(Date.parse(cert.validTo));
    expect(callerIdentity(call)?.role).toBe('worker');
    expect(asks).toBe(1);
  });
});
