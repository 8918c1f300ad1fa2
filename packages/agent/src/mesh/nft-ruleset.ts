import { createHash } from 'node:crypto';
import type { Backend, Route } from './endpoint-table';
import { ANY_ADDRESS } from './forwarder';

/**
 * Set on the connections a mesh table DNATs (a bit of the conntrack mark, so
 * other users of the mark keep theirs): what masquerading and the forward
 * accept match, so no other traffic of the node is touched.
 */
export const MESH_CT_MARK = 0x00100000;

/** The agent's own table: ours by its prefix, one per node address so agents sharing a machine never meet. */
export function meshTableName(address: string): string {
  return `pisched_mesh_${createHash('sha256').update(address).digest('hex').slice(0, 7)}`;
}

/** The backends a new connection may go to: --lb-prefer-local narrows them to the node's own when it has any. */
export function chosenBackends(route: Route): readonly Backend[] {
  const local = route.preferLocal ? route.backends.filter((backend) => backend.local) : [];
  return local.length > 0 ? local : route.backends;
}

const mark = `0x${MESH_CT_MARK.toString(16).padStart(8, '0')}`;

/**
 * One nft transaction that makes the table exactly these routes: declared
 * (so the flush cannot fail on a fresh start), flushed, defined again. It is
 * applied atomically, and conntrack keeps established connections on the
 * backend they were given, so a rebuild (a sync, an agent restart) interrupts
 * nothing. `previous` is a table of an old address of this agent, removed in the same transaction.
 */
export function meshRuleset(table: string, address: string, routes: readonly Route[], previous?: string): string {
  const dnat: string[] = [];
  const refuse: string[] = [];
  for (const route of routes) {
    const daddr = route.address ?? address;
    if (daddr === '') continue;
    // Every address of the node: what the routing decided is local, as the userspace forwarder's 0.0.0.0.
    const to = daddr === ANY_ADDRESS ? 'fib daddr type local' : `ip daddr ${daddr}`;
    const match = `${to} ${route.protocol} dport ${route.publishedPort}`;
    const backends = chosenBackends(route);
    if (backends.length === 0) {
      // Nothing serves it now: refuse at once rather than let the client wait on a silent drop.
      refuse.push(`${match} ${route.protocol === 'tcp' ? 'reject with tcp reset' : 'reject'}`);
      continue;
    }
    const map = backends.map((backend, index) => `${index} : ${backend.address} . ${backend.port}`).join(', ');
    dnat.push(`${match} ct mark set ct mark | ${mark} dnat ip to numgen inc mod ${backends.length} map { ${map} }`);
  }
  const lines = [
    ...(previous && previous !== table ? [`table ip ${previous} {}`, `delete table ip ${previous}`] : []),
    `table ip ${table} {}`,
    `flush table ip ${table}`,
    `table ip ${table} {`,
    // Before the engine's own DNAT (dstnat): our ports are never its.
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat - 10; policy accept;',
    '    jump route',
    '  }',
    // Connections made on this host itself (the output path never sees prerouting).
    '  chain output {',
    '    type nat hook output priority -110; policy accept;',
    '    jump route',
    '  }',
    '  chain route {',
    ...dnat.map((rule) => `    ${rule}`),
    '  }',
    '  chain refuse {',
    '    type filter hook input priority filter - 10; policy accept;',
    ...refuse.map((rule) => `    ${rule}`),
    '  }',
    // A connection sent on to another node must come back through this one: masquerade it.
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat - 10; policy accept;',
    `    ct mark & ${mark} == ${mark} oifname != "lo" masquerade`,
    '  }',
    '}',
  ];
  return `${lines.join('\n')}\n`;
}

/** Removes the table, whether or not it is there. */
export function deleteTableScript(table: string): string {
  return `table ip ${table} {}\ndelete table ip ${table}\n`;
}
