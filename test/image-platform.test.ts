import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Cluster,
  TEST_IMAGE,
  cli,
  cliJson,
  docker,
  dockerAvailable,
  runningContainersOfService,
  startScheduler,
  uniqueName,
  waitFor,
} from './harness';
import type { TaskRow } from '../packages/cli/src/json-views';

const hasDocker = await dockerAvailable();
const MiB = 1024 * 1024;

type InspectJson = { spec: { placement: { platforms: { os: string; architecture: string }[] } } };
type ClusterJson = { heartbeatPeriodMs: number; heartbeatGrace: number; placementStrategy: string };

/**
 * The test image is made here with `docker import`, so the engine records the
 * host's platform for it: amd64 on the usual CI machine. The agents share this
 * one engine and advertise platforms with --arch: `fits` the image's, `other`
 * one that cannot run it.
 */
async function imageArch(): Promise<string> {
  const inspected = await docker.getImage(TEST_IMAGE).inspect();
  return inspected.Architecture === 'arm' && inspected.Variant ? `arm/${inspected.Variant}` : inspected.Architecture;
}

describe.skipIf(!hasDocker)('image platforms on real Docker', () => {
  const cluster = new Cluster();
  const fits = uniqueName('fits');
  const other = uniqueName('other');
  let arch = '';
  let otherArch = '';

  beforeAll(async () => {
    arch = await imageArch();
    otherArch = arch === 'arm64' ? 'amd64' : 'arm64';
    await cluster.start([fits, other], (id) => ['--cpus', '2', '--memory', '1G', '--arch', id === fits ? arch : otherArch]);
  });

  afterAll(async () => {
    await cluster.stop();
  });

  const nodesOf = async (service: string) => (await runningContainersOfService(cluster.nodeIds, service)).map((c) => c.Labels['pisched.node']).sort();
  const run = async (args: string[]) => {
    const result = await cli(cluster.address, ['run', ...args]);
    expect(result.code, `pisched run ${args.join(' ')}: ${result.stderr}\n${cluster.logs()}`).toBe(0);
  };

  it('reads the local image\'s platform into the spec and only places tasks on the node that runs it', async () => {
    const web = uniqueName('web');
    await run(['--name', web, '--replicas', '3', '--memory', '16M', TEST_IMAGE]);
    expect(await nodesOf(web)).toEqual([fits, fits, fits]);
    const inspected = await cliJson<InspectJson>(cluster.address, ['inspect', web]);
    expect(inspected.spec.placement.platforms).toEqual([{ os: 'linux', architecture: arch }]);
    expect((await cli(cluster.address, ['inspect', web])).stdout).toMatch(new RegExp(`^Platforms:\\s+linux/${arch}$`, 'm'));
  });

  it('explains in a dry run which nodes cannot run the image', async () => {
    const result = await cli(cluster.address, ['run', '--dry-run', '--name', uniqueName('plan'), '--constraint', `node.id==${other}`, TEST_IMAGE]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(
      `no suitable node: 1 node cannot run the image's platform linux/${arch} (it is linux/${otherArch}), 1 node fails constraint node.id==${other}`,
    );
  });

  it('takes --platform as given, and records none with --no-resolve-image', async () => {
    const pinned = uniqueName('pinned');
    await run(['--name', pinned, '--replicas', '2', '--memory', '16M', '--platform', `linux/${otherArch}`, TEST_IMAGE]);
    expect(await nodesOf(pinned)).toEqual([other, other]);

    const anywhere = uniqueName('anywhere');
    await run(['--name', anywhere, '--memory', '16M', '--no-resolve-image', '--constraint', `node.id==${other}`, TEST_IMAGE]);
    expect(await nodesOf(anywhere)).toEqual([other]);
    expect((await cliJson<InspectJson>(cluster.address, ['inspect', anywhere])).spec.placement.platforms).toEqual([]);
  });

  it('re-resolves the platform when update changes the image, and the tasks follow it', async () => {
    const moving = uniqueName('moving');
    await run(['--name', moving, '--memory', '16M', '--platform', `linux/${otherArch}`, TEST_IMAGE]);
    expect(await nodesOf(moving)).toEqual([other]);
    const v2 = TEST_IMAGE.replace(/:latest$/, ':v2');
    const result = await cli(cluster.address, ['update', '--image', v2, '--update-monitor', '0s', moving]);
    expect(result.code, `${result.stdout}\n${result.stderr}\n${cluster.logs()}`).toBe(0);
    await waitFor(async () => (await nodesOf(moving)).join() === fits, 30_000, 'the task to move to the node that runs the new image');
    expect((await cliJson<InspectJson>(cluster.address, ['inspect', moving])).spec.placement.platforms).toEqual([{ os: 'linux', architecture: arch }]);
  });

  it('runs a global service only on the nodes that can run its image', async () => {
    const everywhere = uniqueName('global');
    await run(['--name', everywhere, '--mode', 'global', '--memory', '16M', TEST_IMAGE]);
    expect(await nodesOf(everywhere)).toEqual([fits]);
    const ls = await cliJson<{ name: string; replicas: { desired: number; running: number } }[]>(cluster.address, ['ls']);
    expect(ls.find((row) => row.name === everywhere)!.replicas).toMatchObject({ desired: 1, running: 1 });
  });
});

describe.skipIf(!hasDocker)('a task waits for a node that can run its image', () => {
  const cluster = new Cluster();
  const lonely = uniqueName('lonely');
  const joiner = uniqueName('joiner');
  let arch = '';
  let otherArch = '';

  beforeAll(async () => {
    arch = await imageArch();
    otherArch = arch === 'arm64' ? 'amd64' : 'arm64';
    await cluster.start([lonely], () => ['--arch', otherArch]);
  });

  afterAll(async () => {
    await cluster.stop();
  });

  it('stays pending with the platform reason, then runs once a node that can run it joins', async () => {
    const waiting = uniqueName('waiting');
    const created = await cli(cluster.address, ['run', '--detach', '--name', waiting, TEST_IMAGE]);
    expect(created.code, created.stderr).toBe(0);
    const reason = `no suitable node: 1 node cannot run the image's platform linux/${arch} (it is linux/${otherArch})`;
    const [row] = await waitFor(async () => {
      const rows = (await cliJson<TaskRow[]>(cluster.address, ['ps', waiting])).filter((r) => r.desiredState === 'running');
      return rows.length === 1 && rows[0].error !== '' && rows;
    }, 15_000, 'the pending reason');
    expect(row.state).toBe('pending');
    expect(row.error).toBe(reason);
    expect((await cli(cluster.address, ['inspect', waiting])).stdout).toContain(reason);

    cluster.addAgent(joiner, ['--arch', arch]);
    const [container] = await waitFor(async () => {
      const now = await runningContainersOfService(cluster.nodeIds, waiting);
      return now.length === 1 && now;
    }, 30_000, `the task to start on the node that joined\n${cluster.logs()}`);
    expect(container.Labels['pisched.node']).toBe(joiner);
  });
});

describe.skipIf(!hasDocker)('the cluster\'s default placement strategy', () => {
  const cluster = new Cluster();
  const a = uniqueName('sa');
  const b = uniqueName('sb');

  beforeAll(async () => {
    await cluster.start([a, b], () => ['--cpus', '2', '--memory', '1G']);
  });

  afterAll(async () => {
    await cluster.stop();
  });

  const nodeOf = async (service: string) => {
    const [container] = await runningContainersOfService(cluster.nodeIds, service);
    return container?.Labels['pisched.node'];
  };
  const place = async (extra: string[] = []) => {
    const name = uniqueName('s');
    const result = await cli(cluster.address, ['run', '--name', name, '--memory', '256M', ...extra, TEST_IMAGE]);
    expect(result.code, `${result.stderr}\n${cluster.logs()}`).toBe(0);
    return nodeOf(name);
  };
  const settings = () => cliJson<ClusterJson>(cluster.address, ['cluster', 'inspect']);

  it('changes where new tasks go after cluster update, and a service\'s own strategy still wins', async () => {
    expect((await settings()).placementStrategy).toBe('binpack');
    const first = await place();
    const second = await place();
    expect(second).toBe(first); // binpack: the fuller node
    const emptier = first === a ? b : a;

    const updated = await cli(cluster.address, ['cluster', 'update', '--placement-strategy', 'spread']);
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.stdout).toMatch(/^Placement:\s+spread /m);
    expect((await settings()).placementStrategy).toBe('spread');

    expect(await place()).toBe(emptier); // spread: the emptier node (256 MiB used against 512)
    expect(await place(['--placement-strategy', 'binpack'])).toBe(first);
  });

  it('refuses an unknown strategy with one line and keeps the stored one', async () => {
    const result = await cli(cluster.address, ['cluster', 'update', '--placement-strategy', 'random']);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim()).toBe('invalid placement strategy "random": use binpack or spread');
    expect((await settings()).placementStrategy).toBe('spread');
  });

  it('keeps the stored strategy when the scheduler restarts with another --placement-strategy', async () => {
    const [, port] = cluster.address.split(':');
    await cluster.scheduler.daemon.stop();
    const restarted = await startScheduler({ dataDir: cluster.scheduler.dataDir, port: Number(port), extraArgs: ['--placement-strategy', 'binpack'] });
    cluster.track(restarted.daemon);
    expect((await settings()).placementStrategy).toBe('spread');
    await waitFor(() => restarted.daemon.output.includes('stored default placement strategy stays in force'), 5_000, 'the warning about the flag');
    // first holds 768 MiB, the other 256: spread still picks the emptier.
    const used = await cliJson<TaskRow[]>(cluster.address, ['ps']);
    const perNode: Record<string, number> = {};
    for (const row of used.filter((r) => r.desiredState === 'running')) perNode[row.node] = (perNode[row.node] ?? 0) + 256 * MiB;
    const emptier = (perNode[a] ?? 0) < (perNode[b] ?? 0) ? a : b;
    await waitFor(async () => {
      const nodes = await cliJson<{ id: string; state: string }[]>(cluster.address, ['node', 'ls']);
      return nodes.filter((node) => node.state === 'ready').length === 2;
    }, 20_000, 'the agents to reconnect');
    expect(await place()).toBe(emptier);
  });
});
