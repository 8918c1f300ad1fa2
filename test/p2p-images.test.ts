import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, TEST_IMAGE, cli, cliJson, docker, dockerAvailable, freePort, uniqueName, waitFor } from './harness';
import type { ImageRow } from '../packages/cli/src/commands/image';
import { ExtraEngine } from './extra-engine';

const hasDocker = await dockerAvailable();

describe.skipIf(!hasDocker)('images without a registry, on real Docker', () => {
  const cluster = new Cluster();
  const engineB = new ExtraEngine();
  const a = uniqueName('imga');
  const b = uniqueName('imgb');
  const arm = uniqueName('imgarm');
  // A second node on engine A: it holds whatever A holds, and takes over when A dies mid-transfer.
  const a2 = uniqueName('imgz');
  const image = `${uniqueName('pisched-p2p')}:v1`;
  // v1 plus one small layer: a new version of an app on the base the receiver holds already.
  const imageV2 = image.replace(/:v1$/, ':v2');
  let imageId = '';
  /** Bytes the whole of v1 took, as a push reported it. */
  let fullBytes = 0;
  let platformArch = '';

  beforeAll(async () => {
    // An image on the shared engine alone: the test image plus a file only this run writes.
    const container = await docker.createContainer({ Image: TEST_IMAGE, Cmd: ['sh', '-c', `echo ${image} > /made-by-test`], HostConfig: { NetworkMode: 'none' } });
    await container.start();
    await container.wait();
    const [repo, tag] = image.split(':');
    await container.commit({ repo, tag, changes: ['CMD ["sleep", "3600"]'] });
    await container.remove();
    const inspected = await docker.getImage(image).inspect();
    imageId = inspected.Id;
    platformArch = inspected.Architecture;
    await engineB.start();
    const ports = new Map([[a, await freePort()], [b, await freePort()], [arm, await freePort()], [a2, await freePort()]]);
    await cluster.start([a, b, arm, a2], (id) => [
      '--advertise-addr', '127.0.0.1', '--image-port', String(ports.get(id)),
      // Slow enough (~4 s for this image) that a source can be killed half-way.
      ...(id === a || id === a2 ? ['--image-transfer-rate', '512K'] : []),
      ...(id === a || id === a2 ? [] : ['--docker-socket', engineB.socket]),
      ...(id === arm ? ['--arch', platformArch === 'arm64' ? 'amd64' : 'arm64'] : []),
    ]);
  }, 80_000);

  afterAll(async () => {
    await cluster.stop().catch(() => undefined);
    await engineB.stop();
    await docker.getImage(imageV2).remove({ force: true }).catch(() => undefined);
    await docker.getImage(image).remove({ force: true }).catch(() => undefined);
  }, 60_000);

  const engineBHolds = async () => (await engineB.docker.getImage(image).inspect().catch(() => undefined))?.Id;

  it('refuses to send an image to a node of another platform, with one line saying why', async () => {
    const result = await cli(cluster.address, ['image', 'push', image, '--nodes', arm]);
    expect(result.code, result.stdout + result.stderr).not.toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^${arm}: failed refused: image [0-9a-f]{12} is linux/${platformArch}, and node ${arm} runs linux/arm`, 'm'));
    expect(await engineBHolds()).toBeUndefined();
  });

  it('runs a task on a node whose engine lacks the image: the agent fetches it from the node that has it', async () => {
    const service = uniqueName('p2p');
    const run = await cli(cluster.address, ['run', '--name', service, '--constraint', `node.id==${b}`, '--memory', '16M', '--stop-signal', 'SIGKILL', image]);
    expect(run.code, run.stderr).toBe(0);
    await waitFor(async () => {
      const running = await engineB.docker.listContainers({ filters: { label: [`pisched.node=${b}`] } });
      return running.length === 1;
    }, 30_000, `the task to run on ${b}\n${cluster.logs()}`);
    expect(await engineBHolds()).toBe(imageId);
    const rows = await cliJson<ImageRow[]>(cluster.address, ['image', 'ls', '--json']);
    const holders = rows.filter((row) => row.reference === image);
    expect(holders.map((row) => row.node)).toEqual(expect.arrayContaining([a, b]));
    for (const row of holders) expect(row).toMatchObject({ imageId, platform: `linux/${platformArch}` });
    expect((await cli(cluster.address, ['rm', service])).code).toBe(0);
    await waitFor(async () => (await engineB.docker.listContainers({ all: true, filters: { label: [`pisched.node=${b}`] } })).length === 0, 30_000, 'the task container to go');
  }, 60_000);

  it('pre-distributes an image with image push, one progress line per node', async () => {
    await engineB.docker.getImage(image).remove({ force: true });
    expect(await engineBHolds()).toBeUndefined();
    const result = await cli(cluster.address, ['image', 'push', image, '--nodes', b]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout, cluster.logs()).toContain(`${b}: fetching from ${a}`);
    const done = new RegExp(`^${b}: done fetched from ${a} \\((\\d+) bytes\\), image id verified$`, 'm').exec(result.stdout);
    expect(done, result.stdout).not.toBeNull();
    fullBytes = Number(done![1]);
    expect(await engineBHolds()).toBe(imageId);
    const unknown = await cli(cluster.address, ['image', 'push', 'pisched-no-such-image:none']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr.trim()).toMatch(/no node holds image pisched-no-such-image:none/);
  }, 40_000);

  it('sends a new version of an image without the layers the receiver holds already', async () => {
    const container = await docker.createContainer({ Image: image, Cmd: ['sh', '-c', 'echo v2 > /added-in-v2'], HostConfig: { NetworkMode: 'none' } });
    await container.start();
    await container.wait();
    const [repo, tag] = imageV2.split(':');
    await container.commit({ repo, tag, changes: ['CMD ["sleep", "3600"]'] });
    await container.remove();
    const v2 = await docker.getImage(imageV2).inspect();
    expect(v2.RootFS.Layers!.length).toBeGreaterThan(1);
    try {
      const result = await cli(cluster.address, ['image', 'push', imageV2, '--nodes', b]);
      expect(result.code, result.stdout + result.stderr + cluster.logs()).toBe(0);
      const layers = v2.RootFS.Layers!.length;
      const done = new RegExp(`^${b}: done fetched from (?:${a}|${a2}) \\((\\d+) bytes; ${layers - 1} of ${layers} layers were here already\\), image id verified$`, 'm').exec(result.stdout);
      expect(done, result.stdout).not.toBeNull();
      expect(Number(done![1])).toBeLessThan(fullBytes / 4);
      expect((await engineB.docker.getImage(imageV2).inspect()).Id).toBe(v2.Id);
      // Runs, with the file of each layer where it belongs.
      const run = await engineB.docker.createContainer({ Image: imageV2, Cmd: ['cat', '/made-by-test', '/added-in-v2'], HostConfig: { NetworkMode: 'none' } });
      try {
        await run.start();
        expect((await run.wait()).StatusCode).toBe(0);
        const output = (await run.logs({ stdout: true, follow: false })).toString();
        expect(output).toContain(image);
        expect(output).toContain('v2');
      } finally {
        await run.remove({ force: true });
      }
    } finally {
      // Left on engine B it would hold v1's layers, and the next case's transfer would leave them all out.
      await engineB.docker.getImage(imageV2).remove({ force: true }).catch(() => undefined);
    }
  }, 40_000);

  it('completes a transfer from another node when its source dies half-way', async () => {
    await engineB.docker.getImage(image).remove({ force: true });
    const source = cluster.daemons.find((daemon) => daemon.name === `agent ${a}`)!;
    const served = servedCount(source.output);
    const pushing = cli(cluster.address, ['image', 'push', image, '--nodes', b]);
    await waitFor(() => servedCount(source.output) > served, 20_000, `${a} to start serving`);
    await source.stop('SIGKILL');
    const result = await pushing;
    expect(result.code, result.stdout + result.stderr + cluster.logs()).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^${b}: done fetched from ${a2} \\(\\d+ bytes\\), image id verified$`, 'm'));
    expect(await engineBHolds()).toBe(imageId);
    expect(cluster.daemons.find((daemon) => daemon.name === `agent ${b}`)!.output).toMatch(/image transfer failed; trying the next source/);
  }, 40_000);
});

/** Transfers an agent started serving, by its log. */
function servedCount(output: string): number {
  return output.split('\n').filter((line) => line.includes('"msg":"serving an image"')).length;
}
