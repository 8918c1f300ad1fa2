import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type Docker from 'dockerode';
import { Cluster, TEST_IMAGE, cli, cliJson, docker, dockerAvailable, runningContainersOfService, tempDir, uniqueName, waitFor } from './harness';
import { demultiplex } from '../packages/agent/src/docker-log-stream';
import type { TaskRow } from '../packages/cli/src/json-views';

const hasDocker = await dockerAvailable();

/** A command run in a container through the engine's exec API, as `docker exec` would. */
async function exec(containerId: string, cmd: string[]): Promise<{ code: number; stdout: string }> {
  const run = await docker.getContainer(containerId).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await run.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  await new Promise((resolve) => stream.once('end', resolve));
  const { ExitCode } = await run.inspect();
  return { code: ExitCode ?? -1, stdout: demultiplex(Buffer.concat(chunks)).stdout.toString() };
}

/** Whether a capability (by number, see capability.h) is in a /proc/<pid>/status hex set. */
const hasCap = (hex: string, bit: number) => ((BigInt(`0x${hex}`) >> BigInt(bit)) & 1n) === 1n;
const CAP_CHOWN = 0;
const CAP_NET_ADMIN = 12;

describe.skipIf(!hasDocker)('mounts, privileges, identity and logs on real containers', () => {
  const cluster = new Cluster();
  const node = uniqueName('opt-a1');
  const full = uniqueName('opt-full');
  const hostnet = uniqueName('opt-host');
  const volume = uniqueName('opt-vol');
  const hostDir = tempDir('opt-bind');
  const secretWord = `from-the-node-${process.pid}`;
  let container: Docker.ContainerInspectInfo;

  beforeAll(async () => {
    // Readable by the container's non-root user.
    fs.chmodSync(hostDir, 0o755);
    fs.writeFileSync(path.join(hostDir, 'hello.txt'), `${secretWord}\n`, { mode: 0o644 });
    await cluster.start([node]);
    const run = await cli(cluster.address, [
      'run', '--name', full,
      '--mount', `type=bind,source=${hostDir},target=/host,readonly`,
      '--mount', `type=volume,source=${volume},target=/vol`,
      '--mount', 'type=tmpfs,target=/scratch,tmpfs-size=8m',
      '--cap-add', 'NET_ADMIN', '--cap-drop', 'CHOWN',
      '--user', '1234:1234', '--group-add', '2345', '--workdir', '/host', '--stop-grace-period', '1s',
      '--entrypoint', 'sh -c',
      '--hostname', 'sensor-box', '--container-label', 'team=iot', '--read-only',
      '--sysctl', 'net.ipv4.ip_unprivileged_port_start=80', '--ulimit', 'nofile=512:1024', '--dns', '9.9.9.9',
      '--log-opt', 'max-size=1m',
      TEST_IMAGE, 'cat hello.txt; id -u; pwd; hostname; sleep 3600',
    ]);
    expect(run.code, run.stderr + cluster.logs()).toBe(0);
    const [info] = await runningContainersOfService([node], full);
    container = await docker.getContainer(info.Id).inspect();
  });

  afterAll(async () => {
    await cluster.stop();
    await docker.getVolume(volume).remove().catch(() => undefined);
    fs.rmSync(hostDir, { recursive: true, force: true });
  });

  it('runs the command as the user, in the workdir, with the hostname, reading the node\'s file through the bind mount; pisched logs shows it', async () => {
    const logs = await waitFor(async () => {
      const result = await cli(cluster.address, ['logs', full]);
      return result.code === 0 && result.stdout.includes('sensor-box') ? result.stdout : undefined;
    }, 15_000, 'the service\'s output');
    const lines = logs.split('\n').map((line) => line.replace(/^.*\| /, ''));
    expect(lines.slice(0, 4)).toEqual([secretWord, '1234', '/host', 'sensor-box']);
    expect(container.Config.User).toBe('1234:1234');
    expect(container.Config.Labels).toMatchObject({ team: 'iot', 'pisched.node': node });
  });

  it('gives the container the mounts, capabilities, read-only root, limits and log rotation asked for', async () => {
    const host = container.HostConfig;
    expect(container.Mounts.map((m) => [m.Type, m.Destination, m.RW])).toEqual(
      expect.arrayContaining([['bind', '/host', false], ['volume', '/vol', true], ['tmpfs', '/scratch', true]]),
    );
    expect(container.Mounts.find((m) => m.Type === 'volume')!.Name).toBe(volume);
    const mounts = await exec(container.Id, ['cat', '/proc/mounts']);
    expect(mounts.stdout).toMatch(/^tmpfs \/scratch tmpfs [^ ]*size=8192k/m);
    // Non-root: the added capability is in the bounding set, the dropped one is not.
    const status = await exec(container.Id, ['grep', 'CapBnd', '/proc/self/status']);
    const bounding = status.stdout.trim().split(/\s+/)[1];
    expect(hasCap(bounding, CAP_NET_ADMIN)).toBe(true);
    expect(hasCap(bounding, CAP_CHOWN)).toBe(false);
    expect((await exec(container.Id, ['touch', '/rootfs-file'])).code).not.toBe(0);
    expect((await exec(container.Id, ['touch', '/scratch/ok'])).code).toBe(0);
    expect(host.ReadonlyRootfs).toBe(true);
    expect(host.GroupAdd).toEqual(['2345']);
    expect(host.Sysctls).toEqual({ 'net.ipv4.ip_unprivileged_port_start': '80' });
    expect(host.Ulimits).toEqual([{ Name: 'nofile', Soft: 512, Hard: 1024 }]);
    expect(host.Dns).toEqual(['9.9.9.9']);
    expect(host.LogConfig).toEqual({ Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '3' } });
  });

  it('keeps the named volume when the service goes', async () => {
    expect((await cli(cluster.address, ['rm', full])).code).toBe(0);
    await waitFor(async () => (await runningContainersOfService([node], full)).length === 0, 20_000, 'the task to go');
    expect((await docker.getVolume(volume).inspect()).Name).toBe(volume);
  });

  // This workplace's engine cannot start --privileged containers (runc: "unable to apply caps"), so the
  // service accepted while privileges are allowed uses --cap-add SYS_ADMIN, which counts as privileged too.
  it('uses the node\'s network; accepts SYS_ADMIN while the cluster allows privileges and refuses such specs once it does not', async () => {
    const run = await cli(cluster.address, ['run', '--name', hostnet, '--network', 'host', '--cap-add', 'SYS_ADMIN', '--stop-grace-period', '1s', TEST_IMAGE, 'sleep', '3600']);
    expect(run.code, run.stderr + cluster.logs()).toBe(0);
    const [info] = await runningContainersOfService([node], hostnet);
    const inspected = await docker.getContainer(info.Id).inspect();
    expect(inspected.HostConfig.NetworkMode).toBe('host');
    expect(inspected.HostConfig.CapAdd).toEqual([expect.stringMatching(/^(CAP_)?SYS_ADMIN$/)]);
    // The rotating default when the spec asks for nothing.
    expect(inspected.HostConfig.LogConfig).toEqual({ Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } });

    expect((await cli(cluster.address, ['cluster', 'update', '--allow-privileged', 'false'])).code).toBe(0);
    const refused = await cli(cluster.address, ['run', '--name', uniqueName('opt-priv'), '--privileged', '-d', TEST_IMAGE, 'sleep', '1']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr.trim()).toMatch(/^[^\n]*asks for --privileged, which this cluster does not allow \(pisched cluster update --allow-privileged true\)$/);
    const forced = await cli(cluster.address, ['update', '--force', '-d', hostnet]);
    expect(forced.code).not.toBe(0);
    expect(forced.stderr).toMatch(/asks for --cap-add SYS_ADMIN, which this cluster does not allow/);
    expect((await cliJson<{ name: string }[]>(cluster.address, ['ls'])).map((row) => row.name)).toEqual([hostnet]);
    expect((await cli(cluster.address, ['scale', `${hostnet}=0`])).code, 'a scale replaces nothing: allowed').toBe(0);
  });

  it('rejects a task whose bind source is missing on the node, with the engine\'s reason in ps', async () => {
    const missing = uniqueName('opt-missing');
    const run = await cli(cluster.address, ['run', '--name', missing, '-d', '--mount', `type=bind,source=/nonexistent/${missing},target=/data`, TEST_IMAGE, 'sleep', '60']);
    expect(run.code, run.stderr).toBe(0);
    const rejected = await waitFor(async () => {
      const tasks = await cliJson<TaskRow[]>(cluster.address, ['ps', missing]);
      return tasks.find((task) => task.state === 'rejected');
    }, 20_000, 'a rejected task');
    expect(rejected.error).toMatch(/bind source path does not exist: \/nonexistent\//);
  });
});
