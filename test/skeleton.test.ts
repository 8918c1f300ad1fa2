import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Cluster,
  TEST_IMAGE,
  cli,
  cliJson,
  containersOf,
  docker,
  dockerAvailable,
  runningContainersOfService,
  startAgent,
  throwawayAdminDir,
  uniqueName,
  waitFor,
} from './harness';
import type { TaskRow } from '../packages/cli/src/json-views';

// The --json shapes are the CLI's contract; the tests read them through its own types.
type PsRow = TaskRow;

const hasDocker = await dockerAvailable();


describe.skipIf(!hasDocker)('walking skeleton: one scheduler, two agents, real Docker', () => {
  const cluster = new Cluster();
  const a1 = uniqueName('a1');
  const a2 = uniqueName('a2');
  const web = uniqueName('web');
  let agent1Handle: Awaited<ReturnType<Cluster['addAgent']>> | undefined;

  beforeAll(async () => {
    await cluster.start([a1, a2]);
  });

  afterAll(async () => {
    await cluster.stop();
  });

  const running = () => runningContainersOfService([a1, a2], web);

  it('registers both agents with what the engine reports', async () => {
    const nodes = await cliJson<{ id: string; state: string; arch: string; cpus: number; memoryBytes: number }[]>(cluster.address, ['node', 'ls']);
    const ours = nodes.filter((node) => [a1, a2].includes(node.id));
    expect(ours).toHaveLength(2);
    const info = await docker.info();
    for (const node of ours) {
      expect(node.state).toBe('ready');
      expect(node.cpus).toBe(info.NCPU);
      expect(node.memoryBytes).toBe(info.MemTotal);
    }
  });

  it('runs a service of 3 replicas and waits until it has converged', async () => {
    const result = await cli(cluster.address, ['run', '--name', web, '--replicas', '3', '--env', 'GREETING=hi', TEST_IMAGE]);
    expect(result.stderr + result.stdout).toMatch(/converged/i);
    expect(result.code, result.stderr + cluster.logs()).toBe(0);

    const containers = await running();
    expect(containers).toHaveLength(3);
    expect(containers.map((c) => c.Labels['pisched.slot']).sort()).toEqual(['1', '2', '3']);
    expect(new Set(containers.map((c) => c.Labels['pisched.node']))).toEqual(new Set([a1, a2]));
    for (const container of containers) {
      const labels = container.Labels;
      expect(labels['pisched.task']).toMatch(/^[a-z0-9]{25}$/);
      expect(container.Names[0]).toBe(`/${web}.${labels['pisched.slot']}.${labels['pisched.task'].slice(0, 12)}`);
      const inspected = await docker.getContainer(container.Id).inspect();
      expect(inspected.Config.Env).toContain('GREETING=hi');
    }

    const ps = await cliJson<PsRow[]>(cluster.address, ['ps', web]);
    expect(ps.filter((row) => row.state === 'running')).toHaveLength(3);
    expect(ps.every((row) => row.image === TEST_IMAGE && row.service === web)).toBe(true);
    expect(new Set(ps.map((row) => row.containerId))).toEqual(new Set(containers.map((c) => c.Id)));

    const ls = await cliJson<{ name: string; mode: string; image: string; replicas: { desired: number; running: number } }[]>(cluster.address, ['ls']);
    expect(ls.find((row) => row.name === web)).toMatchObject({ mode: 'replicated', image: TEST_IMAGE, replicas: { desired: 3, running: 3 } });
  });

  it('replaces a killed container with a new task in the same slot', async () => {
    const [victim] = await running();
    const slot = victim.Labels['pisched.slot'];
    await docker.getContainer(victim.Id).kill();
    const replacement = await waitFor(async () => {
      const now = await running();
      return now.length === 3 && now.find((c) => c.Labels['pisched.slot'] === slot && c.Id !== victim.Id);
    }, 20_000, 'the killed container to be replaced');
    expect(replacement.Labels['pisched.task']).not.toBe(victim.Labels['pisched.task']);
    const ps = await cliJson<PsRow[]>(cluster.address, ['ps', web]);
    const dead = ps.find((row) => row.id === victim.Labels['pisched.task']);
    expect(dead).toMatchObject({ state: 'failed', desiredState: 'shutdown' });
    expect(dead!.error).toMatch(/exit/);
  });

  it('replaces a container removed behind its back', async () => {
    const [victim] = await running();
    await docker.getContainer(victim.Id).remove({ force: true });
    await waitFor(async () => {
      const now = await running();
      return now.length === 3 && !now.some((c) => c.Id === victim.Id);
    }, 20_000, 'the removed container to be replaced');
  });

  it('scales down to 1 and up to 5', async () => {
    const down = await cli(cluster.address, ['scale', `${web}=1`]);
    expect(down.code, down.stderr).toBe(0);
    const [only] = await waitFor(async () => {
      const now = await running();
      return now.length === 1 && now;
    }, 20_000, 'scale down to 1');
    expect(only.Labels['pisched.slot']).toBe('1');
    // The removed slots' tasks are gone from ps; dead tasks of slot 1 stay as its history.
    const ps = await cliJson<PsRow[]>(cluster.address, ['ps', web]);
    expect(ps.filter((row) => row.desiredState === 'running').map((row) => row.slot)).toEqual([1]);

    const up = await cli(cluster.address, ['scale', `${web}=5`]);
    expect(up.code, up.stderr).toBe(0);
    const containers = await waitFor(async () => {
      const now = await running();
      return now.length === 5 && now;
    }, 30_000, 'scale up to 5');
    expect(containers.map((c) => c.Labels['pisched.slot']).sort()).toEqual(['1', '2', '3', '4', '5']);
  });

  it('completes live service and node names from the cluster', async () => {
    const services = await cli(cluster.address, ['__complete', '--', 'ps', web.slice(0, 4)]);
    expect(services.stdout.split('\n')).toContain(web);
    const nodes = await cli(undefined, ['__complete', '--line', `pisched --scheduler ${cluster.address} node rm `]);
    expect(nodes.stdout.split('\n')).toEqual(expect.arrayContaining([a1, a2]));
  });

  it('restarting an agent adopts its containers instead of duplicating them', async () => {
    const before = await running();
    const agent = cluster.daemons.find((daemon) => daemon.name === `agent ${a1}`)!;
    const dataDir = cluster.dirs.find((dir) => dir.includes(`agent-${a1}`))!;
    // A restart well within the grace, as `systemctl restart` is with the default 5 s × 3: this
    // cluster's 0.5 s × 3 is shorter than an agent's start on a loaded machine, and a node marked
    // down has its tasks replaced, which is right, but not what this case is about.
    expect((await cli(cluster.address, ['cluster', 'update', '--heartbeat-grace', '60'])).code).toBe(0);
    let after;
    try {
      await agent.stop('SIGTERM');
      // The containers keep running while their agent is away.
      expect((await running()).map((c) => c.Id).sort()).toEqual(before.map((c) => c.Id).sort());
      agent1Handle = await startAgent(cluster.address, a1, [], dataDir);
      cluster.track(agent1Handle.daemon);
      await waitFor(async () => {
        const nodes = await cliJson<{ id: string; state: string }[]>(cluster.address, ['node', 'ls']);
        return nodes.some((node) => node.id === a1 && node.state === 'ready');
      }, 15_000, 'the restarted agent to be ready');
      // Give the agent time to reconcile; nothing may change.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      after = await running();
    } finally {
      expect((await cli(cluster.address, ['cluster', 'update', '--heartbeat-grace', '3'])).code).toBe(0);
    }
    expect(after.map((c) => c.Id).sort()).toEqual(before.map((c) => c.Id).sort());
    const all = (await containersOf([a1, a2])).filter((c) => c.Labels['pisched.service'] === web);
    expect(new Set(all.map((c) => c.Labels['pisched.slot'])).size).toBe(all.filter((c) => c.State === 'running').length);
  });

  it('refuses bad input with one line and changes nothing', async () => {
    const duplicate = await cli(cluster.address, ['run', '--detach', '--name', web, TEST_IMAGE]);
    expect(duplicate.code).not.toBe(0);
    expect(duplicate.stderr.trim().split('\n')).toHaveLength(1);
    expect(duplicate.stderr).toMatch(/already in use/);

    for (const args of [
      ['run', '--name', uniqueName('bad'), '--replicas', '-1', TEST_IMAGE],
      ['run', '--name', uniqueName('bad'), '--replicas', '1.5', TEST_IMAGE],
      ['run', '--name', uniqueName('bad'), '--memory', '12Q', TEST_IMAGE],
      ['run', '--name', uniqueName('bad'), '--cpu', 'lots', TEST_IMAGE],
      ['run', '--name', uniqueName('bad'), '-p', '70000:80', TEST_IMAGE],
      ['run', '--name', uniqueName('bad'), '--env', 'NOEQUALS', TEST_IMAGE],
      ['run', '--name', 'not a name', TEST_IMAGE],
      ['scale', `${web}=-3`],
    ]) {
      const result = await cli(cluster.address, args);
      expect(result.code, args.join(' ')).not.toBe(0);
      expect(result.stderr.trim().split('\n'), `${args.join(' ')}: ${result.stderr}`).toHaveLength(1);
    }
    const ls = await cliJson<{ name: string; replicas: { desired: number } }[]>(cluster.address, ['ls']);
    expect(ls.map((row) => row.name)).toEqual([web]);
    expect(ls[0].replicas.desired).toBe(5);
  });

  it('shows an image that cannot be found as a rejected task with the engine\'s message', async () => {
    const missing = uniqueName('missing');
    const result = await cli(cluster.address, ['run', '--name', missing, 'pisched-test/does-not-exist:1']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/rejected/);
    const ps = await cliJson<PsRow[]>(cluster.address, ['ps', missing]);
    const rejected = ps.find((row) => row.state === 'rejected');
    expect(rejected?.error).toMatch(/does-not-exist/);
    expect((await cli(cluster.address, ['rm', missing])).code).toBe(0);
  });

  it('removing the service removes every container', async () => {
    const result = await cli(cluster.address, ['rm', web]);
    expect(result.code, result.stderr).toBe(0);
    await waitFor(async () => (await containersOf([a1, a2])).length === 0, 30_000, 'every container to be gone');
    const ls = await cliJson<unknown[]>(cluster.address, ['ls']);
    expect(ls).toEqual([]);
  });
});

describe('CLI without a scheduler', () => {
  it('says in one line that the scheduler cannot be reached', async () => {
    // With admin credentials at hand (of a throwaway CA): what is tested is the unreachable scheduler.
    const result = await cli('127.0.0.1:1', ['--tls-dir', await throwawayAdminDir(), 'ls']);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe('cannot reach scheduler at 127.0.0.1:1: connection refused');
  });
});
