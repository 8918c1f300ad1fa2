import { createHash } from 'node:crypto';

/**
 * An image's layers are its diff ids (RootFS.Layers), and an engine stores a
 * layer under its chain id: the digest of the whole prefix up to it. So a
 * layer is "the same" only with everything below it the same.
 */
export function chainIds(diffIds: readonly string[]): string[] {
  const chains: string[] = [];
  for (const diffId of diffIds) {
    const below = chains.at(-1);
    chains.push(below === undefined ? diffId : `sha256:${createHash('sha256').update(`${below} ${diffId}`).digest('hex')}`);
  }
  return chains;
}

/**
 * How many of the wanted image's layers the receiver holds already: the
 * longest prefix of its diff ids that one of the local images' layer lists
 * starts with (a layer held under another chain does not count).
 */
export function heldPrefix(wanted: readonly string[], held: Iterable<readonly string[]>): number {
  let best = 0;
  for (const layers of held) {
    let k = 0;
    while (k < wanted.length && k < layers.length && layers[k] === wanted[k]) k++;
    best = Math.max(best, k);
  }
  return best;
}
