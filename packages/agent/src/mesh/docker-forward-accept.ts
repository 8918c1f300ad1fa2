import { execFile } from 'node:child_process';
import { ANY_ADDRESS } from './forwarder';
import { MESH_CT_MARK } from './nft-ruleset';

export const IPTABLES_BINARY = '/usr/sbin/iptables';

/**
 * Docker sets the filter FORWARD policy to drop and accepts only its bridges'
 * traffic; a drop there is final whatever our own table says. So a connection
 * the mesh sends on to another node is let through by one rule in
 * DOCKER-USER, the chain Docker leaves to its users: it matches only the
 * connections this agent DNATed (its conntrack mark bit and its address as
 * the original destination), and its comment (the agent's table name) says whose it is.
 */
export class DockerForwardAccept {

  constructor(
    readonly table: string,
    private readonly address: string,
    private readonly iptables: (args: string[]) => Promise<void> = runIptables,
  ) {}

  /**
   * Adds the rule unless it is there (left by an earlier run of this agent);
   * checked at every sync, so a rule lost to a firewall reload comes back.
   * False: no DOCKER-USER chain, so nothing to open.
   */
  async ensure(): Promise<boolean> {
    try {
      await this.iptables(['-n', '-L', 'DOCKER-USER']);
    } catch {
      return false;
    }
    try {
      await this.iptables(['-C', 'DOCKER-USER', ...this.rule()]);
    } catch {
      await this.iptables(['-I', 'DOCKER-USER', ...this.rule()]);
    }
    return true;
  }

  /** Removes the rule if it is there (more than once if runs of this agent raced to add it). */
  async remove(): Promise<void> {
    for (let copies = 0; copies < 8; copies++) {
      try {
        await this.iptables(['-D', 'DOCKER-USER', ...this.rule()]);
      } catch {
        return;
      }
    }
  }

  private rule(): string[] {
    const mark = `0x${MESH_CT_MARK.toString(16)}`;
    // Listening on every address (ANY_ADDRESS), a connection may have come to any of them: the mark alone says it is ours.
    const destination = this.address === ANY_ADDRESS ? [] : ['-m', 'conntrack', '--ctorigdst', this.address];
    return [...destination, '-m', 'connmark', '--mark', `${mark}/${mark}`, '-m', 'comment', '--comment', this.table, '-j', 'ACCEPT'];
  }
}

export function runIptables(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(IPTABLES_BINARY, ['-w', '5', ...args], (error, _stdout, stderr) => {
      if (error) reject(new Error(`iptables ${args.slice(0, 2).join(' ')} failed: ${String(stderr).trim().split('\n')[0] || error.message}`));
      else resolve();
    });
  });
}
