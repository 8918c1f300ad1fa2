// @peculiar/x509 resolves its algorithms through tsyringe, which needs the
// Reflect metadata polyfill loaded first; Node's own crypto cannot make X.509
// certificates, so this is the one place that sets the library up.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

/** Every key in a cluster: ECDSA on P-256 signing with SHA-256 (what Swarm uses too). */
export const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export const subtle = webcrypto.subtle;

export { x509 };

/** PEM text ending with a newline, so that PEM blocks can be put one after another (a chain). */
export function pemText(pem: string): string {
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}

/** A private key as PEM (PKCS #8), the form Node's TLS reads. */
export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await subtle.exportKey('pkcs8', key));
  return pemText(x509.PemConverter.encode(der, 'PRIVATE KEY'));
}

/** Reads a PKCS #8 PEM key back for signing; throws without echoing the key. */
export async function importPrivateKeyPem(pem: string): Promise<CryptoKey> {
  try {
    const der = x509.PemConverter.decodeFirst(pem);
    return await subtle.importKey('pkcs8', der, KEY_ALGORITHM, false, ['sign']);
  } catch {
    throw new Error('the private key is not a PEM-encoded ECDSA P-256 key');
  }
}

export async function newKeyPair(): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** A random positive serial number (RFC 5280: at most 20 octets, unpredictable). */
export function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] &= 0x7f;
  bytes[0] |= 0x01;
  return Buffer.from(bytes).toString('hex');
}
