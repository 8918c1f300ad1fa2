import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, TEST_IMAGE, cli, cliJson, dockerAvailable, runningContainersOfService, uniqueName, waitFor } from './harness';

const hasDocker = await dockerAvailable();

/**
 * Rebalancing on real processes and a real engine: three agents, a 6-replica
 * spread service, one node drained for maintenance and made active again.
 * Nothing moves back on its own (as in Swarm); `pisched rebalance` moves two
 * tasks to it with the service's update settings, never running fewer than
 * replicas − parallelism.
 */
describe.skipIf(!hasDocker)('rebalance on real Docker', () => {
  const cluster = new Cluster();
  const nodes = [uniqueName('rba'), uniqueName('rbb'), uniqueName('rbc')];
  const [, , back] = nodes;
  const web = uniqueName('rbweb');

  beforeAll(async () => {
    await cluster.start(nodes);
  });

  afterAll(async () => {
    await cluster.stop();
  });

  const perNode = async () => {
    const counts: Record<string, number> = {};
    for (const c of await runningContainersOfService(nodes, web)) counts[c.Labels['pisched.node']] = (counts[c.Labels['pisched.node']] ?? 0) + 1;
    return counts;
  };
  const nodeUpdate = async (availability: string) => {
    const result = await cli(cluster.address, ['node', 'update', '--availability', availability, back]);
    expect(result.code, result.stderr).toBe(0);
  };

  it('moves tasks back to a node that returned only when asked, never below the update floor', async () => {
    const run = await cli(cluster.address, ['run', '--name', web, '--replicas', '6', '--placement-strategy', 'spread', '--update-parallelism', '1', '--update-monitor', '0s', TEST_IMAGE]);
    expect(run.code, run.stderr).toBe(0);
    expect(Object.values(await perNode())).toEqual([2, 2, 2]);

    await nodeUpdate('drain');
    await waitFor(async () => {
      const counts = await perNode();
      return (counts[back] ?? 0) === 0 && Object.values(counts).reduce((a, b) => a + b, 0) === 6;
    }, 30_000, 'the drained node\'s tasks to run elsewhere');
    await nodeUpdate('active');
    // Without a rebalance nothing moves back.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect((await perNode())[back] ?? 0).toBe(0);

    const dry = await cliJson<{ moves: { service: string; fromNode: string; toNode: string }[] }>(cluster.address, ['rebalance', '--dry-run', web]);
    expect(dry.moves.map((move) => move.toNode)).toEqual([back, back]);
    expect((await perNode())[back] ?? 0).toBe(0);

    let sampling = true;
    const samples: number[] = [];
    const sampler = (async () => {
      while (sampling) {
        samples.push((await runningContainersOfService(nodes, web)).length);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const rebalance = await cli(cluster.address, ['rebalance', web]);
    sampling = false;
    await sampler;
    expect(rebalance.code, rebalance.stderr).toBe(0);
    expect(rebalance.stdout).toContain('update completed');
    expect(Object.values(await perNode())).toEqual([2, 2, 2]);
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(5);
    const view = await cliJson<{ updateStatus: { message: string } }>(cluster.address, ['inspect', web]);
    expect(view.updateStatus.message).toBe('rebalance completed');

    // Balanced now: a second rebalance moves nothing and says so.
    const again = await cli(cluster.address, ['rebalance', web]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.trim()).toBe(`${web}: already balanced (spread)`);
  });
});
