import { sign, type KeyObject } from 'node:crypto';

/**
 * A PKCS #10 certificate request (RFC 2986) for an ECDSA P-256 key, naming
 * only a common name, DER-encoded by hand. A joining or renewing node needs
 * nothing more, and doing it with Node's crypto alone keeps the X.509 library
 * (about 9 MiB resident once loaded, and 0.4 s to load) out of agents, which
 * never issue certificates. The CA parses and verifies what this makes.
 */
export function certificationRequestDer(commonName: string, publicKey: KeyObject, privateKey: KeyObject): Buffer {
  const info = sequence(
    INTEGER_ZERO,
    sequence(set(sequence(OID_COMMON_NAME, tlv(UTF8_STRING, Buffer.from(commonName, 'utf8'))))),
    publicKey.export({ type: 'spki', format: 'der' }),
    NO_ATTRIBUTES,
  );
  // Node's ECDSA signatures are DER (r, s) already, as X.509 wants them.
  const signature = sign('sha256', info, privateKey);
  return sequence(info, sequence(OID_ECDSA_WITH_SHA256), tlv(BIT_STRING, Buffer.concat([Buffer.from([0]), signature])));
}

export function pemOf(der: Buffer, label: string): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

const SEQUENCE = 0x30;
const SET = 0x31;
const UTF8_STRING = 0x0c;
const BIT_STRING = 0x03;
const INTEGER_ZERO = Buffer.from([0x02, 0x01, 0x00]);
/** attributes [0] IMPLICIT SET OF Attribute, empty. */
const NO_ATTRIBUTES = Buffer.from([0xa0, 0x00]);
/** 2.5.4.3 */
const OID_COMMON_NAME = Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03]);
/** 1.2.840.10045.4.3.2, with no parameters (RFC 5758). */
const OID_ECDSA_WITH_SHA256 = Buffer.from([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);

function tlv(tag: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(value.length), value]);
}

function sequence(...parts: Buffer[]): Buffer {
  return tlv(SEQUENCE, Buffer.concat(parts));
}

function set(...parts: Buffer[]): Buffer {
  return tlv(SET, Buffer.concat(parts));
}

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest >>= 8) bytes.unshift(rest & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
