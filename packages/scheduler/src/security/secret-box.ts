import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** A new data-encryption key for the cluster's secrets. */
export function newSecretsKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

/**
 * A secret's value encrypted for the store: nonce, ciphertext, tag. The
 * secret's id is authenticated with it, so a sealed value moved onto another
 * secret does not open. A fresh random nonce each time: a key seals few
 * values (one per secret created), far from GCM's limits for random nonces.
 */
export function sealSecret(key: Uint8Array, secretId: string, plaintext: Uint8Array): Buffer {
  checkKey(key);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, nonce);
  cipher.setAAD(Buffer.from(secretId, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/** The value sealSecret sealed; throws (without any of the data in the message) when it does not open. */
export function openSecret(key: Uint8Array, secretId: string, sealed: Uint8Array): Buffer {
  checkKey(key);
  if (sealed.length < NONCE_BYTES + TAG_BYTES) throw new Error(`secret ${secretId}: sealed value too short`);
  const bytes = Buffer.from(sealed);
  const decipher = createDecipheriv(ALGORITHM, key, bytes.subarray(0, NONCE_BYTES));
  decipher.setAAD(Buffer.from(secretId, 'utf8'));
  decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new Error(`secret ${secretId}: sealed value does not open with the cluster's secrets key`);
  }
}

function checkKey(key: Uint8Array): void {
  if (key.length !== KEY_BYTES) throw new Error(`the cluster's secrets key must be ${KEY_BYTES} bytes, not ${key.length}`);
}
