import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Route } from './endpoint-table';
import type { Forwarder } from './forwarder';
import { deleteTableScript, meshRuleset, meshTableName } from './nft-ruleset';
import { runNft } from './nft';
import { DockerForwardAccept, runIptables } from './docker-forward-accept';

// A ruleset nft refused (e.g. a module missing) is tried again this often.
const RETRY_MS = 5_000;

/**
 * The kernel data plane: the node's ingress ports become DNAT rules in an
 * nftables table of the agent's own (round robin with numgen), so bytes never
 * pass through the agent. Each sync rewrites the whole table in one nft
 * transaction; runs never overlap, and syncs arriving during a run are folded
 * into the next one, which applies only the latest routes.
 */
export class NftForwarder implements Forwarder {
  private address = '';
  private routes: readonly Route[] = [];
  /** The table now in the kernel (by this agent's address), if any. */
  private applied?: string;
  private forwardAccept?: DockerForwardAccept;
  private running?: Promise<void>;
  private pending = false;
  private retry?: NodeJS.Timeout;
  private closed = false;
  private closing?: Promise<void>;
  private warnedForwarding = false;

  constructor(
    private readonly log: Logger,
    private readonly nft: (script: string) => Promise<void> = runNft,
    private readonly iptables: (args: string[]) => Promise<void> = runIptables,
  ) {}

  sync(address: string, routes: readonly Route[]): void {
    if (this.closed) return;
    this.address = address;
    this.routes = routes;
    this.schedule();
  }

  /** Resolves once the table is gone from the kernel (after any run under way). */
  close(): Promise<void> {
    this.closing ??= this.removeTable();
    return this.closing;
  }

  private async removeTable(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    await this.running;
    if (this.applied === undefined && this.address === '') return;
    const table = this.applied ?? meshTableName(this.address);
    try {
      await this.nft(deleteTableScript(table));
      this.log.info({ table }, 'mesh: nftables table removed');
    } catch (error) {
      this.log.warn({ table, err: (error as Error).message }, 'mesh: cannot remove the nftables table');
    }
    this.applied = undefined;
    await this.forwardAccept?.remove();
  }

  /** Resolves when everything asked for so far is applied (or has failed and waits for its retry). */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  private schedule(): void {
    if (this.running) {
      this.pending = true;
      return;
    }
    this.running = this.apply().finally(() => {
      this.running = undefined;
      if (this.pending && !this.closed) {
        this.pending = false;
        this.schedule();
      }
    });
  }

  private async apply(): Promise<void> {
    if (this.address === '') return;
    this.checkForwarding();
    const table = meshTableName(this.address);
    try {
      await this.nft(meshRuleset(table, this.address, this.routes, this.applied));
      if (this.applied !== table) this.log.info({ table, address: this.address }, 'mesh: forwarding in the kernel (nftables)');
      this.applied = table;
      await this.openForwarding(table);
      this.log.debug({ table, routes: this.routes.length }, 'mesh: nftables table rewritten');
    } catch (error) {
      this.log.warn({ table, err: (error as Error).message }, 'mesh: cannot apply the nftables table; will retry');
      this.retry ??= setTimeout(() => {
        this.retry = undefined;
        if (!this.closed) this.schedule();
      }, RETRY_MS);
    }
  }

  /** Lets the engine's FORWARD chain pass what this table sends on to other nodes (once per address). */
  private async openForwarding(table: string): Promise<void> {
    if (this.forwardAccept && this.forwardAccept.table !== table) {
      await this.forwardAccept.remove();
      this.forwardAccept = undefined;
    }
    this.forwardAccept ??= new DockerForwardAccept(table, this.address, this.iptables);
    try {
      if (!(await this.forwardAccept.ensure())) this.log.debug('mesh: no DOCKER-USER chain: nothing to open in the forward path');
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, 'mesh: cannot let forwarded mesh connections through DOCKER-USER: those to other nodes may be dropped');
    }
  }

  /** Without forwarding, connections sent on to other nodes go nowhere: say so once. */
  private checkForwarding(): void {
    if (this.warnedForwarding) return;
    this.warnedForwarding = true;
    let value = '';
    try {
      value = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
    } catch {
      return;
    }
    if (value !== '1') this.log.warn('mesh: net.ipv4.ip_forward is 0: connections to backends on other nodes will not be forwarded (sysctl -w net.ipv4.ip_forward=1; Docker normally sets it)');
  }
}
