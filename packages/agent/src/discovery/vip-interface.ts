import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Logger } from 'pino';

async function ip(...args: string[]): Promise<string> {
  // Promisified here, not when the module loads: the bundle loads child_process at its first use (packages/agent/bundle.js).
  const { stdout } = await promisify(execFile)('ip', args, { timeout: 5_000 });
  return stdout;
}

/**
 * The kernel interface that carries the agent's DNS address and VIPs: a
 * bridge with no ports (no dummy driver on every kernel), named pisched-*
 * after the agent's VIP range, holding /32 addresses the node delivers
 * locally, so containers reach them through their bridge's gateway. The
 * agent owns it whole: made afresh at start (whatever an earlier run left
 * goes), addresses added and removed as services come and go, gone at shutdown.
 */
export class VipInterface {
  private readonly present = new Set<string>();
  private up = false;

  constructor(
    readonly name: string,
    private readonly log: Logger,
  ) {}

  /** Makes the interface hold exactly these addresses (creating it first if needed). */
  async sync(addresses: readonly string[]): Promise<void> {
    if (!this.up) {
      await ip('link', 'del', this.name).catch(() => undefined);
      await ip('link', 'add', this.name, 'type', 'bridge');
      await ip('link', 'set', this.name, 'up');
      this.up = true;
      this.present.clear();
      this.log.info({ interface: this.name }, 'discovery: interface made');
    }
    const wanted = new Set(addresses);
    for (const address of [...this.present]) {
      if (wanted.has(address)) continue;
      await ip('addr', 'del', `${address}/32`, 'dev', this.name).catch(() => undefined);
      this.present.delete(address);
    }
    for (const address of wanted) {
      if (this.present.has(address)) continue;
      await ip('addr', 'add', `${address}/32`, 'dev', this.name).catch(async (error: Error) => {
        // Already there (a retry after a partial failure) is what we want.
        if (!/exists/i.test(error.message)) throw error;
      });
      this.present.add(address);
    }
  }

  /** Removes the interface and its addresses. */
  async remove(): Promise<void> {
    this.up = false;
    this.present.clear();
    await ip('link', 'del', this.name).catch(() => undefined);
  }
}
