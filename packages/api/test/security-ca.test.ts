import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createClusterCa, DEFAULT_CERT_VALIDITY_MS, issueCertificate } from '../src/security/cluster-ca';
import { createNodeKeyRequest } from '../src/security/node-key';
import { peerIdentity } from '../src/security/peer-identity';

describe('cluster CA', () => {
  it('makes a self-signed ECDSA P-256 root that may sign certificates', async () => {
    const ca = await createClusterCa();
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.checkIssued(cert)).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(new Date(cert.validTo).getTime() - Date.now()).toBeGreaterThan(10 * 365 * 24 * 3600_000);
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it('issues a node certificate naming node id and role, signed by the root, for 90 days by default', async () => {
    const ca = await createClusterCa();
    const { csrPem, keyPem } = await createNodeKeyRequest('pi-1');
    const now = Date.now();
    const pem = await issueCertificate(ca, { csrPem, nodeId: 'pi-1', role: 'worker', now });
    const cert = new X509Certificate(pem);
    expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.subject).toContain('CN=pi-1');
    expect(cert.subject).toContain('OU=worker');
    // The serial as the store records it (lower-case hex): what a revocation names.
    const serial = cert.serialNumber.toLowerCase();
    expect(serial).toMatch(/^[0-9a-f]+$/);
    expect(peerIdentity(pem)).toEqual({ nodeId: 'pi-1', role: 'worker', serial });
    expect(peerIdentity(cert.raw)).toEqual({ nodeId: 'pi-1', role: 'worker', serial });
    expect(Math.abs(new Date(cert.validTo).getTime() - (now + DEFAULT_CERT_VALIDITY_MS))).toBeLessThan(2000);
    // The certificate is for the node's own key (the key never went to the CA).
    expect(cert.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
  });

  it('honours a shorter validity and each role', async () => {
    const ca = await createClusterCa();
    for (const role of ['worker', 'manager', 'admin'] as const) {
      const { csrPem } = await createNodeKeyRequest(`n-${role}`);
      const pem = await issueCertificate(ca, { csrPem, nodeId: `n-${role}`, role, validityMs: 60_000 });
      expect(peerIdentity(pem)).toMatchObject({ nodeId: `n-${role}`, role });
      expect(new Date(new X509Certificate(pem).validTo).getTime() - Date.now()).toBeLessThan(61_000);
    }
  });

  it('reads each certificate for itself when asked again and again (identities are remembered by certificate)', async () => {
    const ca = await createClusterCa();
    const pems = await Promise.all(['a', 'b'].map(async (id) => issueCertificate(ca, { csrPem: (await createNodeKeyRequest(id)).csrPem, nodeId: id, role: id === 'a' ? 'worker' : 'admin' })));
    for (let round = 0; round < 3; round++) {
      expect(peerIdentity(pems[0]!)).toMatchObject({ nodeId: 'a', role: 'worker' });
      expect(peerIdentity(new X509Certificate(pems[1]!).raw)).toMatchObject({ nodeId: 'b', role: 'admin' });
    }
    // Shared between callers, so no caller can change it for the others.
    expect(Object.isFrozen(peerIdentity(pems[0]!))).toBe(true);
  });

  it('refuses a CSR for another node id, a malformed CSR and a bad node id, with one line', async () => {
    const ca = await createClusterCa();
    const { csrPem } = await createNodeKeyRequest('pi-1');
    await expect(issueCertificate(ca, { csrPem, nodeId: 'pi-2', role: 'worker' })).rejects.toThrow('the certificate signing request names "pi-1", not node pi-2');
    await expect(issueCertificate(ca, { csrPem: 'hello', nodeId: 'pi-1', role: 'worker' })).rejects.toThrow('not a PEM-encoded PKCS #10 request');
    await expect(issueCertificate(ca, { csrPem, nodeId: '../x', role: 'worker' })).rejects.toThrow('invalid node id');
  });

  it('refuses a CSR whose signature does not match its key', async () => {
    const ca = await createClusterCa();
    const { csrPem } = await createNodeKeyRequest('pi-1');
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 5] ^= 0xff; // inside the signature
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await expect(issueCertificate(ca, { csrPem: tampered, nodeId: 'pi-1', role: 'worker' })).rejects.toThrow(/not signed by its own key|not a PEM-encoded/);
  });

  it('a certificate from another CA does not verify against this root', async () => {
    const ca = await createClusterCa();
    const other = await createClusterCa();
    const { csrPem } = await createNodeKeyRequest('pi-1');
    const pem = await issueCertificate(other, { csrPem, nodeId: 'pi-1', role: 'manager' });
    expect(new X509Certificate(pem).verify(new X509Certificate(ca.certPem).publicKey)).toBe(false);
  });

  it('reads no identity from a certificate without pisched names', async () => {
    const ca = await createClusterCa();
    expect(peerIdentity(ca.certPem)).toBeUndefined();
    expect(peerIdentity('not a certificate')).toBeUndefined();
  });
});
