import { randomFillSync } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const ID_LENGTH = 25;
/** Ids' worth of random bytes drawn at once. */
const IDS_PER_DRAW = 164;

/**
 * Random object ids in Swarm's style (25 lowercase letters and digits), from
 * random bytes drawn many ids at a time (as Node's randomUUID does): a create
 * takes an id on the leader before its proposal, and a burst's orchestrator
 * one per task, and drawing 25 bytes alone cost as much as the id's other
 * work (a new buffer and a call into OpenSSL: 6 µs against under 1 here).
 * `fill` is the random source (tests count its calls).
 */
export function idGenerator(fill: (pool: Buffer) => void = (pool) => randomFillSync(pool)): () => string {
  const pool = Buffer.allocUnsafe(ID_LENGTH * IDS_PER_DRAW);
  let next = pool.length;
  return () => {
    if (next === pool.length) {
      fill(pool);
      next = 0;
    }
    let id = '';
    for (const end = next + ID_LENGTH; next < end; next++) id += ALPHABET[pool[next] % ALPHABET.length];
    return id;
  };
}

/** A random object id in Swarm's style: 25 lowercase letters and digits. */
export const newId = idGenerator();
