import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cluster, TEST_IMAGE, cli, cliJson, docker, dockerAvailable, freePort, runningContainersOfService, tempDir, uniqueName, waitFor } from './harness';
import type { NodeRow, TaskRow } from '../packages/cli/src/json-views';

const hasDocker = await dockerAvailable();

const MiB = 1024 * 1024;

// The --json shapes are the CLI's contract; read them through its own type.
type PsRow = TaskRow;


/**
 * Placement on real processes and a real engine. The agents advertise
 * different sizes and labels (the engine's own figures would be the same for
 * all of them, as they share this machine):
 *   big   — 2 CPUs, 1 GiB, zone=a
 *   small — 1 CPU, 512 MiB, zone=b, 64 MiB kept back for the OS
 */
describe.skipIf(!hasDocker)('placement on real Docker: reservations, constraints, pending reasons, drain, global services', () => {
  const cluster = new Cluster();
  const big = uniqueName('big');
  const small = uniqueName('small');
  const late = uniqueName('late');
  const nodes = [big, small];
  const all = () => [...nodes, late];
  // Stand-ins for /sys, so tests set a node's temperature and throttling flags by writing files.
  const sysfs = Object.fromEntries(nodes.map((id) => [id, tempDir(`sysfs-${id}`)]));
  const setHeat = (id: string, celsius: number, throttledHex = '0') => {
    const zone = path.join(sysfs[id], 'class/thermal/thermal_zone0');
    const firmware = path.join(sysfs[id], 'devices/platform/soc/soc:firmware');
    fs.mkdirSync(zone, { recursive: true });
    fs.mkdirSync(firmware, { recursive: true });
    fs.writeFileSync(path.join(zone, 'temp'), `${celsius * 1000}\n`);
    fs.writeFileSync(path.join(firmware, 'get_throttled'), `${throttledHex}\n`);
  };

  beforeAll(async () => {
    for (const id of nodes) setHeat(id, 50);
    await cluster.start(nodes, (id) => [
      '--sysfs-root', sysfs[id],
      ...(id === big
        ? ['--cpus', '2', '--memory', '1G', '--labels', 'zone=a']
        : ['--cpus', '1', '--memory', '512M', '--labels', 'zone=b', '--reserve-memory', '64M']),
    ]);
  });

  afterAll(async () => {
    await cluster.stop();
  });

  const ps = (service: string) => cliJson<PsRow[]>(cluster.address, ['ps', service]);
  const live = async (service: string) => (await ps(service)).filter((row) => row.desiredState === 'running');
  const running = (service: string) => runningContainersOfService(all(), service);
  const run = async (args: string[]) => {
    const result = await cli(cluster.address, ['run', ...args]);
    expect(result.code, `pisched run ${args.join(' ')}: ${result.stderr}\n${cluster.logs()}`).toBe(0);
    return result;
  };

  /** Sum of the memory reservations of live tasks per node, from `ps` and the services' specs. */
  async function reservedMemory(services: Record<string, number>): Promise<Record<string, number>> {
    const sums: Record<string, number> = {};
    for (const [service, memory] of Object.entries(services)) {
      for (const row of await live(service)) {
        if (row.node === '' || row.state === 'pending') continue;
        sums[row.node] = (sums[row.node] ?? 0) + memory;
      }
    }
    return sums;
  }

  const web = uniqueName('web');
  const waiting = uniqueName('waiting');

  it('reserves memory per task and never puts more on a node than it offers, minus what it keeps for the OS', async () => {
    // 3 × 384 MiB: big (1 GiB) takes 2, small (512 − 64 MiB) takes 1; nothing fits a fourth.
    await run(['--name', web, '--replicas', '3', '--memory', '384M', '--cpu', '0.5', TEST_IMAGE]);
    const containers = await running(web);
    expect(containers).toHaveLength(3);
    const perNode: Record<string, number> = {};
    for (const c of containers) perNode[c.Labels['pisched.node']] = (perNode[c.Labels['pisched.node']] ?? 0) + 1;
    expect(perNode).toEqual({ [big]: 2, [small]: 1 });

    const reserved = await reservedMemory({ [web]: 384 * MiB });
    const nodeRows = await cliJson<NodeRow[]>(cluster.address, ['node', 'ls']);
    for (const node of nodeRows.filter((n) => nodes.includes(n.id))) {
      const kept = node.id === small ? 64 * MiB : 0;
      expect(reserved[node.id] ?? 0, node.id).toBeLessThanOrEqual(node.memoryBytes - kept);
    }

    // The reservation is also the container's limit.
    const inspected = await docker.getContainer(containers[0].Id).inspect();
    expect(inspected.HostConfig.Memory).toBe(384 * MiB);
    expect(inspected.HostConfig.NanoCpus).toBe(500_000_000);
  });

  it('leaves a task that fits nowhere pending with a reason, in ps and inspect', async () => {
    const result = await cli(cluster.address, ['run', '--detach', '--name', waiting, '--memory', '512M', TEST_IMAGE]);
    expect(result.code, result.stderr).toBe(0);
    const [row] = await waitFor(async () => {
      const rows = await live(waiting);
      return rows.length === 1 && rows[0].error !== '' && rows;
    }, 15_000, 'the pending reason');
    expect(row.state).toBe('pending');
    expect(row.error).toBe('no suitable node: 2 nodes lack memory (need 512MiB, most free 256MiB)');
    const table = await cli(cluster.address, ['ps', waiting]);
    expect(table.stdout).toContain('no suitable node: 2 nodes lack memory');
    const inspect = await cli(cluster.address, ['inspect', waiting]);
    expect(inspect.stdout).toContain('no suitable node');
    expect(await running(waiting)).toHaveLength(0);
  });

  it('places the waiting task as soon as another service shrinks', async () => {
    const scaled = await cli(cluster.address, ['scale', `${web}=1`]);
    expect(scaled.code, scaled.stderr).toBe(0);
    const [container] = await waitFor(async () => {
      const now = await running(waiting);
      return now.length === 1 && now;
    }, 30_000, 'the waiting task to start once room appeared');
    // Only big can hold 512 MiB once web's replicas there are gone.
    expect(container.Labels['pisched.node']).toBe(big);
  });

  it('keeps tasks to nodes that satisfy the constraints', async () => {
    const zoned = uniqueName('zoned');
    await run(['--name', zoned, '--replicas', '2', '--memory', '32M', '--constraint', 'node.labels.zone==b', TEST_IMAGE]);
    const containers = await running(zoned);
    expect(containers.map((c) => c.Labels['pisched.node'])).toEqual([small, small]);

    const arch = await cli(cluster.address, ['run', '--detach', '--name', uniqueName('arch'), '--constraint', 'node.platform.arch==s390x', TEST_IMAGE]);
    expect(arch.code, arch.stderr).toBe(0);
    expect((await cli(cluster.address, ['rm', zoned])).code).toBe(0);
  });

  it('prints a dry-run plan with the node of each task or why it cannot be placed, and creates nothing', async () => {
    const name = uniqueName('plan');
    const result = await cli(cluster.address, [
      'run', '--dry-run', '--name', name, '--replicas', '2', '--memory', '32M', '--max-per-node', '1', '--constraint', 'node.labels.zone==b', TEST_IMAGE,
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^1\\s+${small}\\s*$`, 'm'));
    expect(result.stdout).toMatch(
      /^2\s+-\s+no suitable node: 1 node fails constraint node\.labels\.zone==b, 1 node already runs 1 task of this service \(max-per-node 1\)$/m,
    );
    const ls = await cliJson<{ name: string }[]>(cluster.address, ['ls']);
    expect(ls.map((row) => row.name)).not.toContain(name);

    // An update's plan gives the old tasks' room back: web's 384 MiB on small, so small has 448 MiB, big 512.
    const update = await cli(cluster.address, ['update', '--dry-run', '--memory', '600M', web]);
    expect(update.code, update.stderr).toBe(0);
    expect(update.stdout).toMatch(/^1\s+-\s+no suitable node: 2 nodes lack memory \(need 600MiB, most free 512MiB\)$/m);
    const unchanged = await cliJson<{ spec: { resources: { memoryBytes: number } } }>(cluster.address, ['inspect', web]);
    expect(unchanged.spec.resources.memoryBytes).toBe(384 * MiB);
  });

  it('drain moves a node\'s tasks elsewhere, honouring constraints; active brings placements back', async () => {
    const spread = uniqueName('spread');
    await run(['--name', spread, '--replicas', '2', '--memory', '32M', TEST_IMAGE]);
    expect(new Set((await running(spread)).map((c) => c.Labels['pisched.node']))).toEqual(new Set([big, small]));
    const pinned = uniqueName('pinned');
    await run(['--name', pinned, '--memory', '32M', '--constraint', `node.id==${small}`, TEST_IMAGE]);

    const drained = await cli(cluster.address, ['node', 'update', '--availability', 'drain', small]);
    expect(drained.code, drained.stderr).toBe(0);
    await waitFor(async () => {
      const now = await running(spread);
      return now.length === 2 && now.every((c) => c.Labels['pisched.node'] === big);
    }, 30_000, 'the drained node\'s task to move to the other node');
    // The pinned task has nowhere to go: it waits, saying why, instead of breaking its constraint.
    await waitFor(async () => (await running(pinned)).length === 0, 20_000, 'the pinned task to stop');
    const [pending] = await waitFor(async () => {
      const rows = (await live(pinned)).filter((row) => row.state === 'pending' && row.error !== '');
      return rows.length === 1 && rows;
    }, 15_000, 'the pinned task to wait with a reason');
    expect(pending.error).toBe(`no suitable node: 1 node is drained, 1 node fails constraint node.id==${small}`);

    const nodeRows = await cliJson<NodeRow[]>(cluster.address, ['node', 'ls']);
    expect(nodeRows.find((n) => n.id === small)!.availability).toBe('drain');

    const active = await cli(cluster.address, ['node', 'update', '--availability', 'active', small]);
    expect(active.code, active.stderr).toBe(0);
    await waitFor(async () => (await running(pinned)).length === 1, 30_000, 'the pinned task to return once the node is active');
  });

  it('changes node labels with node update, and tasks follow the constraints', async () => {
    const labelled = uniqueName('labelled');
    await run(['--name', labelled, '--detach', '--memory', '16M', '--constraint', 'node.labels.disk==ssd', TEST_IMAGE]);
    const added = await cli(cluster.address, ['node', 'update', '--label-add', 'disk=ssd', big]);
    expect(added.code, added.stderr).toBe(0);
    const nodeRows = await cliJson<NodeRow[]>(cluster.address, ['node', 'ls']);
    expect(nodeRows.find((n) => n.id === big)!.labels).toMatchObject({ disk: 'ssd', zone: 'a' });
    await waitFor(async () => (await running(labelled)).length === 1, 30_000, 'the task to start on the labelled node');
    const removed = await cli(cluster.address, ['node', 'update', '--label-rm', 'disk', big]);
    expect(removed.code, removed.stderr).toBe(0);
    await waitFor(async () => (await running(labelled)).length === 0, 30_000, 'the task to stop once the label is gone');
  });

  it('runs a global service on every eligible node and follows a node that joins', async () => {
    const everywhere = uniqueName('global');
    await run(['--name', everywhere, '--mode', 'global', '--memory', '16M', TEST_IMAGE]);
    expect(new Set((await running(everywhere)).map((c) => c.Labels['pisched.node']))).toEqual(new Set([big, small]));
    const ls = await cliJson<{ name: string; mode: string; replicas: { desired: number; running: number } }[]>(cluster.address, ['ls']);
    expect(ls.find((row) => row.name === everywhere)).toMatchObject({ mode: 'global', replicas: { desired: 2, running: 2 } });
    // A replica count for it is refused with one line, as Docker refuses it, and nothing is written.
    const version = async () => (await cliJson<{ version: number }>(cluster.address, ['inspect', everywhere])).version;
    const stored = await version();
    const scaled = await cli(cluster.address, ['scale', `${everywhere}=5`]);
    expect(scaled.code).toBe(1);
    expect(scaled.stderr).toBe(`cannot scale ${everywhere}: a global service runs one task on every eligible node and takes no replica count\n`);
    const updated = await cli(cluster.address, ['update', '--replicas', '5', everywhere]);
    expect(updated.code).toBe(1);
    expect(updated.stderr).toBe(`cannot set --replicas of ${everywhere}: a global service runs one task on every eligible node and takes no replica count\n`);
    expect(await version()).toBe(stored);
    // -q and --filter, for scripts, as docker's: ids one a line, the same tasks as --json's.
    const onBig = await cliJson<{ id: string; node: string; desiredState: string }[]>(cluster.address, ['ps', everywhere, '--json']);
    const quiet = await cli(cluster.address, ['ps', everywhere, '-q', '--filter', `node=${big}`, '-f', 'desired-state=running']);
    expect(quiet.stdout).toBe(onBig.filter((row) => row.node === big && row.desiredState === 'running').map((row) => `${row.id}\n`).join(''));
    expect(quiet.stdout.split('\n')).toHaveLength(2);
    expect((await cli(cluster.address, ['ls', '-q'])).stdout.split('\n')).toContain(
      (await cliJson<{ name: string; id: string }[]>(cluster.address, ['ls'])).find((row) => row.name === everywhere)!.id,
    );
    expect((await cli(cluster.address, ['node', 'ls', '-q'])).stdout.split('\n').sort()).toEqual(['', big, small].sort());

    cluster.addAgent(late, ['--cpus', '1', '--memory', '256M']);
    const containers = await waitFor(async () => {
      const now = await running(everywhere);
      return now.length === 3 && now;
    }, 30_000, 'the global service to start on the node that joined');
    expect(containers.map((c) => c.Labels['pisched.node']).sort()).toEqual([...all()].sort());
    expect(new Set(containers.map((c) => c.Labels['pisched.slot']))).toEqual(new Set(['0']));
  });

  it('applies no Docker limits with --no-limits, but still reserves', async () => {
    const loose = uniqueName('loose');
    await run(['--name', loose, '--memory', '64M', '--no-limits', '--constraint', `node.id==${late}`, TEST_IMAGE]);
    const [container] = await running(loose);
    const inspected = await docker.getContainer(container.Id).inspect();
    expect(inspected.HostConfig.Memory).toBe(0);
    // late offers 256 MiB and the global task holds 16: 64 + 16 fit, a second 200 MiB task does not.
    const more = uniqueName('more');
    const result = await cli(cluster.address, ['run', '--detach', '--name', more, '--memory', '200M', '--constraint', `node.id==${late}`, TEST_IMAGE]);
    expect(result.code, result.stderr).toBe(0);
    const [row] = await waitFor(async () => {
      const rows = await live(more);
      return rows.length === 1 && rows[0].error !== '' && rows;
    }, 15_000, 'the reason');
    expect(row.error).toMatch(/1 node lacks memory \(need 200MiB, most free 176MiB\)/);
  });

  it('moves a task when an update changes its constraints', async () => {
    const mover = uniqueName('mover');
    await run(['--name', mover, '--memory', '16M', '--constraint', `node.id==${small}`, TEST_IMAGE]);
    const result = await cli(cluster.address, ['update', '--detach', '--constraint-rm', `node.id==${small}`, '--constraint-add', `node.id==${late}`, mover]);
    expect(result.code, result.stderr).toBe(0);
    await waitFor(async () => {
      const now = await running(mover);
      return now.length === 1 && now[0].Labels['pisched.node'] === late;
    }, 30_000, 'the task to move to the node its new constraint names');
    const inspect = await cliJson<{ spec: { placement: { constraints: string[] } } }>(cluster.address, ['inspect', mover]);
    expect(inspect.spec.placement.constraints).toEqual([`node.id==${late}`]);
  });

  it('stops a lower-priority task to make room for a higher one, and brings it back when room appears', async () => {
    // late offers 256 MiB: the global task holds 16, loose 64; "more" (200) waits. Remove it so only loose can give way.
    const loose = (await cliJson<{ name: string }[]>(cluster.address, ['ls'])).find((row) => row.name.startsWith('loose-'))!.name;
    for (const row of await cliJson<{ name: string }[]>(cluster.address, ['ls'])) {
      if (row.name.startsWith('more-')) expect((await cli(cluster.address, ['rm', row.name])).code).toBe(0);
    }
    const vip = uniqueName('vip');
    await run(['--name', vip, '--memory', '200M', '--priority', '10', '--constraint', `node.id==${late}`, TEST_IMAGE]);
    expect(await running(vip)).toHaveLength(1);
    const rows = await waitFor(async () => {
      const now = await ps(loose);
      return now.some((row) => row.state === 'pending' && row.desiredState === 'running') && now;
    }, 15_000, 'the preempted task to be replaced by a pending one');
    const stopped = rows.find((row) => row.desiredState === 'shutdown')!;
    expect(stopped.shutdownReason).toBe(`preempted by ${vip}.1`);
    expect((await cli(cluster.address, ['ps', loose])).stdout).toContain(`preempted by ${vip}.1`);
    await waitFor(async () => (await running(loose)).length === 0, 15_000, 'the preempted container to stop');

    expect((await cli(cluster.address, ['rm', vip])).code).toBe(0);
    await waitFor(async () => (await running(loose)).length === 1, 30_000, 'the preempted service to run again once room appeared');
  });

  it('never puts two tasks publishing the same host port on one node, and says so', async () => {
    const name = uniqueName('ported');
    const port = await freePort('0.0.0.0');
    // Only big may take it: both agents share this machine's one engine, where a second bind would fail anyway.
    await run(['--detach', '--name', name, '--replicas', '2', '--constraint', `node.id==${big}`, '--publish', `published=${port},target=8080,mode=host`, TEST_IMAGE]);
    const rows = await waitFor(async () => {
      const now = await live(name);
      return now.some((row) => row.state === 'running') && now.some((row) => row.error !== '') && now;
    }, 30_000, 'one task running and one pending with its reason');
    const pending = rows.find((row) => row.state === 'pending')!;
    // The other nodes (how many depends on the earlier tests) fail the constraint.
    expect(pending.error).toMatch(new RegExp(`^no suitable node: (.*, )?1 node already has port ${port}/tcp published(, .*)?$`));
    expect(pending.error).toMatch(new RegExp(`fails? constraint node\\.id==${big}`));
    expect(await running(name)).toHaveLength(1);
    expect((await cli(cluster.address, ['rm', name])).code).toBe(0);
  });
  it('ranks a hot node last and, under avoid-throttled, places nothing new on a node throttling past the grace', async () => {
    const nodeRows = () => cliJson<NodeRow[]>(cluster.address, ['node', 'ls']);
    const heatOf = async (id: string) => (await nodeRows()).find((row) => row.id === id)!;
    setHeat(big, 80);
    await waitFor(async () => (await heatOf(big)).temperatureCelsius === 80, 10_000, 'big to report 80°C');
    expect((await cli(cluster.address, ['node', 'ls'])).stdout).toMatch(new RegExp(`${big} .* 80°C`));

    // Unreserved tasks fit anywhere; without heat the same-service penalty would put one on each node.
    const warm = uniqueName('warm');
    await run(['--name', warm, '--replicas', '2', '--constraint', `node.id!=${late}`, TEST_IMAGE]);
    expect((await running(warm)).map((c) => c.Labels['pisched.node'])).toEqual([small, small]);

    setHeat(big, 52);
    await waitFor(async () => (await heatOf(big)).temperatureCelsius === 52, 10_000, 'big to cool down');
    const scaled = await cli(cluster.address, ['scale', `${warm}=3`]);
    expect(scaled.code, scaled.stderr).toBe(0);
    expect((await running(warm)).filter((c) => c.Labels['pisched.node'] === big)).toHaveLength(1);

    const policy = await cli(cluster.address, ['cluster', 'update', '--thermal-policy', 'avoid-throttled', '--thermal-grace', '1s']);
    expect(policy.code, policy.stderr).toBe(0);
    expect(policy.stdout).toContain('Thermal policy:   avoid-throttled');
    try {
      setHeat(small, 83, '50004');
      await waitFor(async () => (await heatOf(small)).throttling.includes('throttled'), 10_000, 'small to report throttling');
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      const pinned = uniqueName('pinned');
      const result = await cli(cluster.address, ['run', '--detach', '--name', pinned, '--constraint', `node.id==${small}`, TEST_IMAGE]);
      expect(result.code, result.stderr).toBe(0);
      const [row] = await waitFor(async () => {
        const rows = await live(pinned);
        return rows.length === 1 && rows[0].error !== '' && rows;
      }, 15_000, 'the reason');
      expect(row.error).toMatch(/1 node has been throttling too long \(thermal policy avoid-throttled\)/);
      // Its running tasks stay where they are.
      expect((await running(warm)).filter((c) => c.Labels['pisched.node'] === small)).toHaveLength(2);

      setHeat(small, 60);
      await waitFor(async () => (await running(pinned)).length === 1, 20_000, 'the pinned task to start once the node stopped throttling');
    } finally {
      await cli(cluster.address, ['cluster', 'update', '--thermal-policy', 'prefer-cool']);
    }
  });
});
