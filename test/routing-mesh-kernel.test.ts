import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, TEST_IMAGE, cli, docker, dockerAvailable, freePort, runningContainersOfService, uniqueName, waitFor } from './harness';
import { HOSTNAME_HTTP_SERVER as HTTP_SERVER, getBody as get, containerHostnames as hostnames } from './hostname-http';
import { meshTableName } from '../packages/agent/src/mesh/nft-ruleset';

const hasDocker = await dockerAvailable();

// Three "Pis" on one machine, as in routing-mesh.test.ts, each on its own
// loopback address, but forwarding with --mesh-forwarder kernel: the ingress
// ports are nftables DNAT rules, one table per agent, and no agent listens on them.
const NET = `127.${10 + (process.pid % 90)}.${(process.pid * 7) % 250}`;


/** The agents' forward accepts in Docker's DOCKER-USER chain (iptables -S lines), by their table name comment. */
function forwardAccepts(tables: string[]): string[] {
  const listed = execFileSync('iptables', ['-w', '5', '-S', 'DOCKER-USER'], { encoding: 'utf8' });
  return listed.split('\n').filter((line) => tables.some((table) => line.includes(`--comment ${table}`)));
}

function nftTables(): string {
  return execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' });
}

/** Who listens on address:port (ss); the kernel path must leave it to the rules. */
function listeners(address: string, port: number): string {
  return execFileSync('ss', ['-Hltn', `src ${address}:${port}`], { encoding: 'utf8' }).trim();
}


describe.skipIf(!hasDocker)('routing mesh in the kernel (--mesh-forwarder kernel): three agents on one engine', () => {
  const cluster = new Cluster();
  const [a, b, c] = [uniqueName('knft-a'), uniqueName('knft-b'), uniqueName('knft-c')];
  const address: Record<string, string> = { [a]: `${NET}.21`, [b]: `${NET}.22`, [c]: `${NET}.23` };
  const role: Record<string, string> = { [a]: 'backend', [b]: 'backend', [c]: 'front' };
  const table = (id: string): string => meshTableName(address[id]);
  const web = uniqueName('kweb');
  /** A node's agent process, the latest when it was restarted. */
  const agent = (id: string) => [...cluster.daemons].reverse().find((daemon) => daemon.name === `agent ${id}`)!;
  let port = 0;

  beforeAll(async () => {
    port = await freePort(address[c]);
    await cluster.start([a, b, c], (id) => ['--advertise-addr', address[id], '--mesh-listen', 'advertise', '--labels', `knft=${role[id]}`, '--mesh-forwarder', 'kernel']);
  });
  afterAll(async () => {
    await cluster.stop();
    // A killed agent leaves its table and forward accept (the data plane outlives the agent); the test removes them.
    const ours = [a, b, c].map(table);
    for (const name of ours) {
      try {
        execFileSync('nft', ['delete', 'table', 'ip', name], { stdio: 'ignore' });
      } catch {
        // gone already
      }
    }
    for (const line of forwardAccepts(ours)) execFileSync('iptables', ['-w', '5', '-D', ...line.split(' ').slice(1)]);
    for (const name of ours) expect(nftTables()).not.toContain(name);
    expect(forwardAccepts(ours)).toEqual([]);
  });

  it('forwards in the kernel: requests to the node without a replica reach both, a third replica joins, a killed node leaves the rotation, stopped agents remove their tables', async () => {
    const run = await cli(cluster.address, [
      'run', '--name', web, '--replicas', '2', '-p', `${port}:80`, '--constraint', 'node.labels.knft==backend', TEST_IMAGE, ...HTTP_SERVER,
    ]);
    expect(run.code, run.stderr).toBe(0);
    const replicas = await waitFor(async () => {
      const names = await hostnames(cluster.nodeIds, web);
      return names.length === 2 && names;
    }, 20_000, 'two replicas running');

    const seen = await waitFor(async () => {
      const bodies = new Set<string>();
      for (let i = 0; i < 10; i++) {
        const body = await get(address[c], port);
        if (body instanceof Error) return false;
        bodies.add(body);
      }
      return bodies.size === 2 && [...bodies].sort();
    }, 10_000, 'requests to the third node answered by both replicas');
    expect(seen).toEqual(replicas);
    // It is the kernel: every agent has its table with the port, and nothing listens on it.
    for (const id of [a, b, c]) expect(execFileSync('nft', ['list', 'table', 'ip', table(id)], { encoding: 'utf8' })).toContain(`tcp dport ${port} `);
    expect(listeners(address[c], port)).toBe('');

    // Scale to 3: the new replica is reached through c.
    const scale = await cli(cluster.address, ['scale', `${web}=3`]);
    expect(scale.code, scale.stderr).toBe(0);
    const added = await waitFor(async () => {
      const now = await hostnames(cluster.nodeIds, web);
      return now.length === 3 && now.find((name) => !replicas.includes(name));
    }, 20_000, 'a third replica running');
    const addedSeenAt = await waitFor(async () => {
      for (let i = 0; i < 6; i++) if ((await get(address[c], port)) === added) return Date.now();
      return false;
    }, 10_000, 'the new replica to answer through the kernel path');
    const container = (await runningContainersOfService(cluster.nodeIds, web)).find((info) => info.Id.startsWith(added))!;
    const startedAt = Date.parse((await docker.getContainer(container.Id).inspect()).State.StartedAt);
    console.log(`mesh (kernel): the new replica answered through ${c} ${addedSeenAt - startedAt} ms after its container started (polled)`);

    // c crashes and comes back: its table serves on meanwhile and is replaced
    // in one transaction when its first table arrives, so no request fails.
    const agentArgs = ['--advertise-addr', address[c], '--mesh-listen', 'advertise', '--labels', `knft=${role[c]}`, '--mesh-forwarder', 'kernel'];
    let failed = 0;
    let served = 0;
    let looping = true;
    const loop = (async () => {
      while (looping) {
        if ((await get(address[c], port)) instanceof Error) failed++;
        else served++;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    try {
      await agent(c).stop('SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 500));
      const restarted = await cluster.addAgent(c, agentArgs, cluster.dirs.find((dir) => dir.includes(`agent-${c}-`)));
      await waitFor(() => restarted.daemon.output.includes('forwarding in the kernel'), 15_000, `${c} to rebuild its table`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      looping = false;
      await loop;
    }
    console.log(`mesh (kernel): across ${c}'s crash and restart ${served} requests through it, ${failed} failed`);
    expect(failed).toBe(0);
    expect(served).toBeGreaterThan(10);

    // b killed: its containers run on (shared engine), only c's table keeps traffic from them.
    const onB = await hostnames([b], web);
    expect(onB.length).toBeGreaterThan(0);
    await agent(b).stop('SIGKILL');
    const killedAt = Date.now();
    const gone = await waitFor(async () => {
      for (let i = 0; i < 8; i++) {
        const body = await get(address[c], port);
        if (body instanceof Error || onB.includes(body)) return false;
      }
      return Date.now();
    }, 15_000, `${b}'s replicas out of ${c}'s rotation`);
    console.log(`mesh (kernel): a killed node's replicas left the rotation within ${gone - killedAt} ms (grace 3 s)`);
    expect(nftTables()).toContain(table(b));

    // Agents stopped cleanly remove their tables and forward accepts.
    expect(forwardAccepts([table(a), table(c)])).toHaveLength(2);
    for (const id of [a, c]) await agent(id).stop();
    const tables = nftTables();
    expect(tables).not.toContain(table(a));
    expect(tables).not.toContain(table(c));
    expect(forwardAccepts([table(a), table(c)])).toEqual([]);
  });
});
