import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { engineMessage } from '../docker-driver';
import { inSubnet } from './vip-range';

/** The engine's label on a network pisched made: the pisched network's name. */
export const LABEL_NETWORK = 'pisched.network';
/** And the node whose agent made it, so whoever cleans up after that node finds it. */
export const LABEL_CREATED_BY = 'pisched.created-by';

/** The engine's name for a pisched network. */
export function dockerNetworkName(network: string): string {
  return `pisched-${network}`;
}

function statusCode(error: unknown): number | undefined {
  return (error as { statusCode?: number } | null)?.statusCode;
}

/**
 * The node's Docker bridge networks that stand for pisched networks: made on
 * first use, labelled, found again by name (agents sharing one engine, or a
 * restarted agent, use the one that is there), and the subnet of each known,
 * which is how the DNS server tells which network a query comes from.
 */
export class DockerNetworks {
  /** pisched network name → its engine subnet. */
  private readonly subnets = new Map<string, string>();
  private lastRefresh = 0;
  /** Whether the networks this node's agent made in an earlier run have been looked for (see removeAllBut). */
  private ownFound = false;

  constructor(
    private readonly docker: Docker,
    private readonly nodeId: string,
    private readonly log: Logger,
  ) {}

  /** Makes sure the engine has the network; returns the engine's name for it. */
  async ensure(network: string): Promise<string> {
    const name = dockerNetworkName(network);
    if (this.subnets.has(network)) return name;
    let subnet = await this.inspectSubnet(name);
    if (subnet === undefined) {
      try {
        await this.docker.createNetwork({ Name: name, Driver: 'bridge', CheckDuplicate: true, Labels: { [LABEL_NETWORK]: network, [LABEL_CREATED_BY]: this.nodeId } });
        this.log.info({ network, engineNetwork: name }, 'discovery: engine network made');
      } catch (error) {
        // Another agent on the same engine made it first: use theirs.
        if (statusCode(error) !== 409) throw new Error(`cannot make network ${name}: ${engineMessage(error)}`);
      }
      subnet = await this.inspectSubnet(name);
    }
    if (subnet) this.subnets.set(network, subnet);
    return name;
  }

  /** The pisched network an address of a container belongs to (by the engine network's subnet). */
  async networkOf(address: string): Promise<string | undefined> {
    const found = this.lookup(address);
    if (found || Date.now() - this.lastRefresh < 2_000) return found;
    await this.refresh();
    return this.lookup(address);
  }

  /**
   * Removes the engine networks of pisched networks not in keep; one still
   * holding a container (stopping, or another agent's on a shared engine) stays
   * and is tried again on the next call. Resolves to how many stayed.
   */
  async removeAllBut(keep: ReadonlySet<string>): Promise<number> {
    // An agent stopped while a removed service's containers were stopping left
    // its network behind, unknown to the next run: found once, by this node's label
    // (another node's, on a shared engine, is its own agent's to remove).
    if (!this.ownFound) this.ownFound = await this.refresh([`${LABEL_CREATED_BY}=${this.nodeId}`]);
    let stayed = 0;
    for (const network of [...this.subnets.keys()]) {
      if (keep.has(network)) continue;
      try {
        await this.docker.getNetwork(dockerNetworkName(network)).remove();
        this.log.info({ network }, 'discovery: engine network removed');
      } catch (error) {
        if (statusCode(error) !== 404) {
          stayed++;
          this.log.debug({ network, err: engineMessage(error) }, 'discovery: engine network kept for now');
          continue;
        }
      }
      this.subnets.delete(network);
    }
    return stayed;
  }

  private lookup(address: string): string | undefined {
    for (const [network, subnet] of this.subnets) if (inSubnet(address, subnet)) return network;
    return undefined;
  }

  /** Learns the subnets of the engine's pisched networks (those with every label given too); false when the engine could not list them. */
  private async refresh(labels: string[] = []): Promise<boolean> {
    if (labels.length === 0) this.lastRefresh = Date.now();
    try {
      const listed = await this.docker.listNetworks({ filters: { label: [LABEL_NETWORK, ...labels] } });
      for (const info of listed) {
        const network = info.Labels?.[LABEL_NETWORK];
        const subnet = info.IPAM?.Config?.[0]?.Subnet;
        if (network && subnet) this.subnets.set(network, subnet);
      }
      return true;
    } catch (error) {
      this.log.warn({ err: engineMessage(error) }, 'discovery: cannot list engine networks');
      return false;
    }
  }

  private async inspectSubnet(name: string): Promise<string | undefined> {
    try {
      const info = (await this.docker.getNetwork(name).inspect()) as { IPAM?: { Config?: Array<{ Subnet?: string }> } };
      return info.IPAM?.Config?.[0]?.Subnet ?? '';
    } catch (error) {
      if (statusCode(error) === 404) return undefined;
      throw error;
    }
  }
}
