import { createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createClusterCa, issueCertificate } from '../src/security/cluster-ca';
import { createNodeKeyRequest } from '../src/security/node-key';
import { x509 } from '../src/security/x509';

/** The request is DER-encoded by hand: the X.509 library the CA uses is the judge of it. */
describe('certificate request made with Node crypto alone', () => {
  it('parses, verifies with its own key, names the node, and carries the public key of the private key returned', async () => {
    const { csrPem, keyPem } = await createNodeKeyRequest('pi-1');
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    expect(await csr.verify()).toBe(true);
    expect(csr.subjectName.getField('CN')).toEqual(['pi-1']);
    expect(csr.signatureAlgorithm).toMatchObject({ name: 'ECDSA', hash: { name: 'SHA-256' } });
    const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
    expect(Buffer.from(csr.publicKey.rawData)).toEqual(fromKey);
  });

  it('encodes long names with long-form lengths', async () => {
    const nodeId = `n-${'x'.repeat(62)}`;
    const csr = new x509.Pkcs10CertificateRequest((await createNodeKeyRequest(nodeId)).csrPem);
    expect(await csr.verify()).toBe(true);
    expect(csr.subjectName.getField('CN')).toEqual([nodeId]);
  });

  it('is refused by the CA once its name is changed: the signature covers it', async () => {
    const { csrPem } = await createNodeKeyRequest('pi-1');
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der.write('pi-2', der.indexOf(Buffer.from('pi-1')));
    const renamed = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await expect(issueCertificate(await createClusterCa(), { csrPem: renamed, nodeId: 'pi-2', role: 'worker' })).rejects.toThrow('not signed by its own key');
  });
});
