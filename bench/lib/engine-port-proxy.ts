import * as fs from 'node:fs';

/**
 * The engine's own userspace proxy (docker-proxy) behind a published host
 * port, found in /proc by its arguments. The engine's NAT rules skip
 * 127.0.0.0/8, so every request to a container's port on a loopback address
 * (the benchmark's "nodes") is copied by this process: its CPU belongs to
 * every path measured, the direct one included.
 */
export function enginePortProxyPid(hostIp: string, hostPort: number): number | undefined {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args: string[];
    try {
      args = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // ended meanwhile
    }
    if (!args[0]?.endsWith('docker-proxy')) continue;
    const value = (flag: string) => args[args.indexOf(flag) + 1];
    if (value('-host-ip') === hostIp && value('-host-port') === String(hostPort)) return Number(entry);
  }
  return undefined;
}
