import { randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A random object id in Swarm's style: 25 lowercase letters and digits. */
export function newId(): string {
  const bytes = randomBytes(25);
  let id = '';
  for (const byte of bytes) id += ALPHABET[byte % ALPHABET.length];
  return id;
}
