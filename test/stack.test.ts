import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { Cluster, TEST_IMAGE, cli, cliJson, containersOf, docker, dockerAvailable, freePort, tempDir, uniqueName, waitFor } from './harness';
import type { ServiceRow, TaskRow } from '../packages/cli/src/json-views';
import { demultiplex } from '../packages/agent/src/docker-log-stream';

const hasDocker = await dockerAvailable();

async function exec(containerId: string, cmd: string[]): Promise<string> {
  const run = await docker.getContainer(containerId).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await run.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  await new Promise((resolve) => stream.once('end', resolve));
  return demultiplex(Buffer.concat(chunks)).stdout.toString();
}

// Not the agent's address (127.0.0.1, where its session comes from): the mesh accepts an
// ingress port on every address of the node by default (--mesh-listen all), as Swarm does.
const OTHER_LOCAL_ADDRESS = `127.${100 + (process.pid % 100)}.${process.pid % 250}.77`;

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: OTHER_LOCAL_ADDRESS, port, path: '/' }, (response) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

/** A web server publishing a port, a two-replica cache and a job: what the stack has, on the test image. */
function composeFile(cacheImage: string, withJob: boolean): string {
  return [
    'version: "3.8"',
    'services:',
    '  web:',
    '    image: ${IMAGE}',
    '    command: ["sh", "-c", "mkdir -p /www && echo hello-$${HOSTNAME:+stack} > /www/index.html && exec httpd -f -p 8080 -h /www"]',
    '    ports: ["${WEB_PORT:?set WEB_PORT}:8080"]',
    '    stop_grace_period: 1s',
    '    depends_on: [cache]',
    '    secrets: [token]',
    '  cache:',
    `    image: ${cacheImage}`,
    '    command: ["sh", "-c", "mkdir -p /www && echo cache-page > /www/index.html && exec httpd -f -p 6379 -h /www"]',
    '    expose: ["6379"]',
    '    stop_grace_period: 1s',
    '    deploy:',
    '      replicas: 2',
    '      update_config: {parallelism: 2, monitor: 1s}',
    ...(withJob ? ['  job:', '    image: ${IMAGE}', '    command: sh -c "echo done"', '    deploy: {mode: replicated-job}'] : []),
    'secrets:',
    '  token: {file: ./token.txt}',
    '',
  ].join('\n');
}

describe.skipIf(!hasDocker)('stack deploy on real containers', () => {
  const cluster = new Cluster();
  const node = uniqueName('stk-a1');
  const stack = uniqueName('stk');
  const dir = tempDir('stack');
  const file = path.join(dir, 'docker-compose.yml');
  // Same image, another name: a changed image string rolls the service without pulling anything.
  const otherImage = `pisched-test/busybox:${stack}`;
  let port = 0;
  const token = `token-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const taskIds = async (service: string) =>
    (await cliJson<TaskRow[]>(cluster.address, ['ps', `${stack}_${service}`])).filter((task) => task.desiredState === 'running').map((task) => task.id).sort();

  beforeAll(async () => {
    port = await freePort();
    fs.writeFileSync(path.join(dir, '.env'), `IMAGE=${TEST_IMAGE}\nWEB_PORT=${port}\n`);
    fs.writeFileSync(file, composeFile(TEST_IMAGE, true));
    fs.writeFileSync(path.join(dir, 'token.txt'), token);
    await docker.getImage(TEST_IMAGE).tag({ repo: 'pisched-test/busybox', tag: stack });
    await cluster.start([node], () => ['--secrets-dir', tempDir('stack-secrets')]);
  });

  afterAll(async () => {
    await cluster.stop();
    await docker.getImage(otherImage).remove().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('deploys the whole file, waits until it converges, and serves on the published port', async () => {
    const deploy = await cli(cluster.address, ['stack', 'deploy', '-c', file, stack]);
    expect(deploy.code, deploy.stderr + cluster.logs()).toBe(0);
    expect(deploy.stderr).toBe('warning: ignoring unsupported options: depends_on (web)\n');
    expect(deploy.stdout).toContain(`stack ${stack}: 3 to create, 0 to update, 0 to remove, 0 unchanged`);
    const services = await cliJson<ServiceRow[]>(cluster.address, ['stack', 'services', stack]);
    expect(services.map((row) => [row.name, row.replicas.running, row.replicas.completed]).sort()).toEqual([
      [`${stack}_cache`, 2, 0],
      [`${stack}_job`, 0, 1],
      [`${stack}_web`, 1, 0],
    ]);
    expect(await waitFor(async () => (await get(port).catch(() => '')).trim() || undefined, 15_000, 'the web page')).toBe('hello-stack');
    const stacks = await cliJson<{ name: string; services: number }[]>(cluster.address, ['stack', 'ls']);
    expect(stacks).toContainEqual({ name: stack, services: 3 });
    const containers = (await containersOf([node], false)).filter((c) => c.Labels['com.docker.stack.namespace'] === stack);
    expect(containers.length).toBe(3);
    // The stack's secret was created as STACK_token and the web container has the file's content under the key's name.
    expect(deploy.stdout).toContain(`Creating secret ${stack}_token`);
    const web = containers.find((c) => c.Labels['pisched.service'] === `${stack}_web`)!;
    expect(await exec(web.Id, ['cat', '/run/secrets/token'])).toBe(token);
    // web reaches the cache by the short name the file gives it, on the stack's default network, through its VIP.
    const fromWeb = await waitFor(async () => {
      const answer = await exec(web.Id, ['sh', '-c', "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 cache 6379"]);
      return answer.includes('cache-page') && answer;
    }, 15_000, 'web to reach the cache by name');
    expect(fromWeb).toMatch(/^HTTP\/1\.[01] 200/);
    // Labelled as Swarm labels a stack's objects, so the docker CLI's `stack rm` finds them too.
    const networks = await cliJson<{ name: string; labels: Record<string, string> }[]>(cluster.address, ['network', 'ls']);
    expect(networks).toContainEqual(expect.objectContaining({ name: `${stack}_default`, labels: { 'com.docker.stack.namespace': stack } }));
    expect(await docker.listNetworks({ filters: { label: [`pisched.network=${stack}_default`] } })).toHaveLength(1);
  });

  it('changes nothing when the same file is deployed again', async () => {
    const before = [...(await taskIds('web')), ...(await taskIds('cache'))];
    const again = await cli(cluster.address, ['stack', 'deploy', '-c', file, stack]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe(`stack ${stack}: 0 to create, 0 to update, 0 to remove, 3 unchanged\n`);
    expect([...(await taskIds('web')), ...(await taskIds('cache'))]).toEqual(before);
  });

  it('refuses a file with a typo, naming file, line, service and key, and changes nothing', async () => {
    const bad = path.join(dir, 'bad.yml');
    fs.writeFileSync(bad, composeFile(otherImage, true).replace('replicas: 2', 'replica: 2'));
    const before = await taskIds('cache');
    const result = await cli(cluster.address, ['stack', 'deploy', '-c', bad, stack]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`${bad}:16: service "cache": deploy.replica: unknown key (not in the Compose Specification)\n`);
    expect(await taskIds('cache')).toEqual(before);
  });

  it('rolls only the service whose image changed, showing the diff in a dry run first', async () => {
    const web = await taskIds('web');
    const cache = await taskIds('cache');
    fs.writeFileSync(file, composeFile(otherImage, true));
    const dry = await cli(cluster.address, ['stack', 'deploy', '--dry-run', '-c', file, stack]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`update ${stack}_cache\n  container.image: "${TEST_IMAGE}" -> "${otherImage}"\n`);
    expect(dry.stdout).toContain(`unchanged ${stack}_web\n`);
    expect(await taskIds('cache')).toEqual(cache);
    const roll = await cli(cluster.address, ['stack', 'deploy', '-c', file, stack]);
    expect(roll.code, roll.stderr + cluster.logs()).toBe(0);
    expect(roll.stdout).toContain(`stack ${stack}: 0 to create, 1 to update, 0 to remove, 2 unchanged`);
    expect(roll.stdout).toContain('update completed');
    const rolled = await taskIds('cache');
    expect(rolled).toHaveLength(2);
    expect(rolled.some((id) => cache.includes(id))).toBe(false);
    expect(await taskIds('web')).toEqual(web);
  });

  it('keeps a service dropped from the file unless --prune is given', async () => {
    fs.writeFileSync(file, composeFile(otherImage, false));
    const kept = await cli(cluster.address, ['stack', 'deploy', '-c', file, stack]);
    expect(kept.code, kept.stderr).toBe(0);
    expect(kept.stdout).toContain(`kept`);
    expect((await cliJson<ServiceRow[]>(cluster.address, ['stack', 'services', stack])).length).toBe(3);
    const pruned = await cli(cluster.address, ['stack', 'deploy', '--prune', '-c', file, stack]);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.stdout).toContain(`Removing service ${stack}_job`);
    expect((await cliJson<ServiceRow[]>(cluster.address, ['stack', 'services', stack])).map((row) => row.name).sort()).toEqual([`${stack}_cache`, `${stack}_web`]);
  });

  it('stack rm removes every service, and their containers go', async () => {
    const rm = await cli(cluster.address, ['stack', 'rm', stack]);
    expect(rm.code, rm.stderr).toBe(0);
    expect(await cliJson<ServiceRow[]>(cluster.address, ['stack', 'services', stack])).toEqual([]);
    await waitFor(async () => (await containersOf([node])).filter((c) => c.Labels['com.docker.stack.namespace'] === stack).length === 0, 30_000, 'the stack\'s containers to go');
    expect(rm.stdout).toContain(`Removing secret ${stack}_token`);
    expect((await cliJson<{ name: string }[]>(cluster.address, ['secret', 'ls'])).map((row) => row.name)).not.toContain(`${stack}_token`);
    // No network behind either: the stack's, and the engine network the agent made for it.
    expect((await cliJson<{ name: string }[]>(cluster.address, ['network', 'ls'])).map((row) => row.name)).not.toContain(`${stack}_default`);
    await waitFor(async () => (await docker.listNetworks({ filters: { label: [`pisched.network=${stack}_default`] } })).length === 0, 15_000, 'the engine network to go');
  });
});
