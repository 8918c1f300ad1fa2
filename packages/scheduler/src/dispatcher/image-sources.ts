import type { ImageFetchInput, Node, NodeImage, Task } from '@pisched/api';

/** How long an offer as a node's first source counts against it: about one transfer of a large image on a Pi. */
const OFFER_WINDOW_MS = 60_000;

/** The image references services name: what agents are asked to report on. */
export function serviceImages(services: Iterable<{ spec?: { container?: { image?: string } | null } | null }>, extra: Iterable<string> = []): string[] {
  const images = new Set<string>(extra);
  for (const service of services) {
    const image = service.spec?.container?.image;
    if (image) images.add(image);
  }
  return [...images].sort();
}

/** A node's image server, if it runs one and is up. */
export function imageServer(node: Node): string | undefined {
  if (node.state !== 'READY' || !node.imagePort || !node.address) return undefined;
  return node.address.includes(':') ? `[${node.address}]:${node.imagePort}` : `${node.address}:${node.imagePort}`;
}

/**
 * Which nodes serve which images, and how often each was offered lately as a
 * first source: the least offered comes first, so a node that just received
 * an image serves the next one and a rollout does not funnel through the
 * node the image was built on.
 */
export class ImageSourceChooser {
  private readonly offers = new Map<string, number[]>();

  constructor(private readonly now: () => number) {}

  /** Recent offers of a node as first source. */
  load(nodeId: string): number {
    const since = this.now() - OFFER_WINDOW_MS;
    const recent = (this.offers.get(nodeId) ?? []).filter((at) => at > since);
    if (recent.length === 0) this.offers.delete(nodeId);
    else this.offers.set(nodeId, recent);
    return recent.length;
  }

  /**
   * Where `receiver` can fetch `reference` from: the image id most holders
   * agree on, and its holders best first. Undefined when no other node serves it.
   */
  choose(nodes: Iterable<Node>, receiver: string, reference: string): ImageFetchInput | undefined {
    const holders = new Map<string, Array<{ node: Node; address: string }>>();
    for (const node of nodes) {
      if (node.id === receiver) continue;
      const address = imageServer(node);
      const held = node.images?.find((image: NodeImage) => image.reference === reference);
      if (!address || !held) continue;
      const list = holders.get(held.imageId) ?? [];
      list.push({ node, address });
      holders.set(held.imageId, list);
    }
    // Nodes may disagree on what a tag names (built twice): the version most of them hold wins.
    const best = [...holders.entries()].sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]))[0];
    if (!best) return undefined;
    const [imageId, list] = best;
    const ordered = list
      .map((entry) => ({ ...entry, load: this.load(entry.node.id) }))
      .sort((a, b) => a.load - b.load || a.node.id.localeCompare(b.node.id));
    this.offers.set(ordered[0].node.id, [...(this.offers.get(ordered[0].node.id) ?? []), this.now()]);
    return { reference, imageId, sources: ordered.map((entry) => ({ nodeId: entry.node.id, address: entry.address })) };
  }

  /**
   * For each image of these tasks that the receiver does not hold: where to
   * fetch it. holders: the nodes serving each reference (see holdersByReference),
   * built once for a round of pushes rather than once per node.
   */
  forTasks(nodes: Map<string, Node>, receiver: string, tasks: readonly Task[], holders = holdersByReference(nodes.values())): ImageFetchInput[] {
    const held = new Set((nodes.get(receiver)?.images ?? []).map((image) => image.reference));
    const wanted = new Set(tasks.map((task) => task.spec?.container?.image ?? '').filter((image) => image !== '' && !held.has(image) && holders.has(image)));
    const result: ImageFetchInput[] = [];
    for (const reference of [...wanted].sort()) {
      const chosen = this.choose(holders.get(reference)!, receiver, reference);
      if (chosen) result.push(chosen);
    }
    return result;
  }
}

/** The nodes serving images, by the references they hold. */
export function holdersByReference(nodes: Iterable<Node>): Map<string, Node[]> {
  const index = new Map<string, Node[]>();
  for (const node of nodes) {
    if (!imageServer(node)) continue;
    for (const image of node.images ?? []) index.set(image.reference, [...(index.get(image.reference) ?? []), node]);
  }
  return index;
}
