import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, TEST_IMAGE, cli, cliJson, docker, dockerAvailable, runningContainersOfService, uniqueName, waitFor } from './harness';
import type { NodeRow, TaskRow } from '../packages/cli/src/json-views';

const hasDocker = await dockerAvailable();

/**
 * Device-aware placement on real processes and a real engine. The agents share
 * this machine's /dev, so each is told what to advertise with harmless
 * character devices:
 *   withZero — discovers /dev/zero from its --device-paths list (a glob)
 *   plain    — discovers nothing, offers one camera (--generic-resource)
 *   late     — joins later with --devices /dev/full
 */
describe.skipIf(!hasDocker)('devices and generic resources on real Docker', () => {
  const cluster = new Cluster();
  const withZero = uniqueName('dev-zero');
  const plain = uniqueName('dev-plain');
  const late = uniqueName('dev-late');
  const all = () => [withZero, plain, late];
  const zeroSvc = uniqueName('dev-z');
  const fullSvc = uniqueName('dev-f');
  const camA = uniqueName('cam-a');
  const camB = uniqueName('cam-b');

  beforeAll(async () => {
    await cluster.start([withZero, plain], (id) =>
      id === withZero ? ['--device-paths', '/dev/zer*,/dev/pisched-absent'] : ['--device-paths', '', '--generic-resource', 'camera=1'],
    );
  });

  afterAll(async () => {
    await cluster.stop();
  });

  const live = async (service: string) => (await cliJson<TaskRow[]>(cluster.address, ['ps', service])).filter((row) => row.desiredState === 'running');
  const run = async (args: string[]) => {
    const result = await cli(cluster.address, ['run', '--stop-grace-period', '1s', ...args]);
    expect(result.code, `pisched run ${args.join(' ')}: ${result.stderr}\n${cluster.logs()}`).toBe(0);
  };
  const pendingReason = (service: string) =>
    waitFor(async () => {
      const rows = await live(service);
      return rows.find((row) => row.state === 'pending' && row.error !== '')?.error;
    }, 15_000, `a pending reason for ${service}`);

  it('shows what each node advertises in node ls', async () => {
    const rows = await cliJson<NodeRow[]>(cluster.address, ['node', 'ls']);
    expect(rows.find((row) => row.id === withZero)).toMatchObject({ devices: ['/dev/zero'], genericResources: {} });
    expect(rows.find((row) => row.id === plain)).toMatchObject({ devices: [], genericResources: { camera: 1 } });
    const table = await cli(cluster.address, ['node', 'ls']);
    expect(table.stdout).toMatch(new RegExp(`${withZero}.*/dev/zero`));
    const inspect = await cli(cluster.address, ['node', 'inspect', plain]);
    expect(inspect.stdout).toMatch(/^Generic resources: +camera=1$/m);
    expect(await cliJson<NodeRow>(cluster.address, ['node', 'inspect', withZero])).toMatchObject({ id: withZero, devices: ['/dev/zero'] });
    const missing = await cli(cluster.address, ['node', 'inspect', 'no-such-node']);
    expect([missing.code, missing.stderr.trim()]).toEqual([1, 'no such node: no-such-node']);
  });

  it('refuses a device outside /dev in one line and stores nothing', async () => {
    const bad = uniqueName('dev-bad');
    const result = await cli(cluster.address, ['run', '--detach', '--name', bad, '--device', '/tmp/x', TEST_IMAGE]);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim()).toBe('invalid device path "/tmp/x": a host device must be under /dev');
    const ls = await cliJson<{ name: string }[]>(cluster.address, ['ls']);
    expect(ls.map((service) => service.name)).not.toContain(bad);
  });

  it('places a service needing /dev/zero only on the node that has it, and the container gets the device', async () => {
    await run(['--name', zeroSvc, '--replicas', '2', '--device', '/dev/zero:/dev/zero:r', TEST_IMAGE, 'sh', '-c', 'head -c 3 /dev/zero | wc -c; sleep 3600']);
    const containers = await runningContainersOfService(all(), zeroSvc);
    expect(containers.map((c) => c.Labels['pisched.node'])).toEqual([withZero, withZero]);
    const info = await docker.getContainer(containers[0].Id).inspect();
    expect(info.HostConfig.Devices).toEqual([{ PathOnHost: '/dev/zero', PathInContainer: '/dev/zero', CgroupPermissions: 'r' }]);
    const logs = await waitFor(async () => {
      const result = await cli(cluster.address, ['logs', zeroSvc]);
      return result.stdout.includes('3') && result.stdout;
    }, 15_000, 'the container to read the device');
    expect(logs).toMatch(/\| 3\n/);
  });

  it('keeps a service needing a device no node has pending with the reason, and places it when a node with it joins', async () => {
    await run(['--detach', '--name', fullSvc, '--device', '/dev/full', TEST_IMAGE, 'sleep', '3600']);
    expect(await pendingReason(fullSvc)).toBe('no suitable node: 2 nodes lack device /dev/full');
    const table = await cli(cluster.address, ['ps', fullSvc]);
    expect(table.stdout).toContain('no suitable node: 2 nodes lack device /dev/full');

    await cluster.addAgent(late, ['--device-paths', '', '--devices', '/dev/full']);
    const [container] = await waitFor(async () => {
      const now = await runningContainersOfService(all(), fullSvc);
      return now.length === 1 && now;
    }, 30_000, 'the task to start on the node that joined with /dev/full');
    expect(container.Labels['pisched.node']).toBe(late);
  });

  it('books a generic resource: a second camera service waits with the reason and runs once the first lets go', async () => {
    await run(['--name', camA, '--generic-resource', 'camera=1', TEST_IMAGE, 'sleep', '3600']);
    const [first] = await runningContainersOfService(all(), camA);
    expect(first.Labels['pisched.node']).toBe(plain);
    const info = await docker.getContainer(first.Id).inspect();
    expect(info.Config.Env).toContain('DOCKER_RESOURCE_CAMERA=1');

    await run(['--detach', '--name', camB, '--generic-resource', 'camera=1', TEST_IMAGE, 'sleep', '3600']);
    expect(await pendingReason(camB)).toBe('no suitable node: 3 nodes lack generic resource camera (need 1, most free 0)');

    expect((await cli(cluster.address, ['scale', `${camA}=0`])).code).toBe(0);
    const [second] = await waitFor(async () => {
      const now = await runningContainersOfService(all(), camB);
      return now.length === 1 && now;
    }, 30_000, 'the waiting camera task to start once the camera was released');
    expect(second.Labels['pisched.node']).toBe(plain);
  });
});
