import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { dockerNetworkName } from '../packages/agent/src/discovery/docker-networks';
import { Cluster, TEST_IMAGE, cli, cliJson, containersOf, docker, dockerAvailable, freePort, runningContainersOfService, tempDir, uniqueName, waitFor } from './harness';

const hasDocker = await dockerAvailable();
/** The docker CLI from Debian's docker.io: here a client of the scheduler, never of dockerd. */
const DOCKER_CLI = process.env.PISCHED_DOCKER_CLI ?? '/usr/bin/docker';
const V2_IMAGE = process.env.PISCHED_TEST_IMAGE_V2 ?? 'pisched-test/busybox:v2';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe.skipIf(!hasDocker)('the docker CLI driving pisched through its Docker API', () => {
  const cluster = new Cluster();
  const node = uniqueName('dapi');
  const web = uniqueName('dapi-web');
  const app = uniqueName('dapi-app');
  const token = uniqueName('dapi-tok');
  // Made in beforeAll: a skipped file (no Docker) then makes no directory the harness would not remove.
  let socket = '';
  let bundle = '';
  let dockerConfig = '';
  const adminName = uniqueName('dapi-admin');
  let apiPort = 0;
  let webPort = 0;
  let stackPort = 0;

  /** The docker CLI with the environment a Swarm user sets: DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH. */
  const dockerEnv = () => ({ PATH: process.env.PATH ?? '', DOCKER_CONFIG: dockerConfig, DOCKER_HOST: `tcp://127.0.0.1:${apiPort}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: bundle });
  const dockerCli = (args: string[], env: Record<string, string> = {}, input?: string): Promise<Run> =>
    new Promise((resolve) => {
      const child = execFile(
        DOCKER_CLI,
        args,
        { env: { ...dockerEnv(), ...env }, timeout: 120_000 },
        (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
      if (input !== undefined) child.stdin!.end(input);
    });
  const ok = async (args: string[], input?: string): Promise<string> => {
    const run = await dockerCli(args, {}, input);
    if (run.code !== 0) throw new Error(`docker ${args.join(' ')} failed (${run.code}): ${run.stderr}\n${cluster.logs()}`);
    return run.stdout;
  };
  /** The docker CLI against the shared engine itself (its own environment), to look inside a task's container. */
  const onEngine = (args: string[]): Promise<string> =>
    new Promise((resolve, reject) =>
      execFile(DOCKER_CLI, args, { timeout: 30_000 }, (error, stdout, stderr) => (error ? reject(new Error(`docker ${args.join(' ')}: ${stderr}`)) : resolve(stdout + stderr))),
    );
  const services = () => cliJson<Array<{ name: string; image: string; replicas: { desired: number; running: number } }>>(cluster.address, ['ls']);
  const service = async (name: string) => (await services()).find((s) => s.name === name);

  beforeAll(async () => {
    if (!fs.existsSync(DOCKER_CLI)) throw new Error(`${DOCKER_CLI} is missing: apt-get install docker.io (the test drives pisched with the real docker CLI)`);
    socket = path.join(tempDir('dapi-sock'), 'docker.sock');
    bundle = path.join(tempDir('dapi-admin'), 'bundle');
    dockerConfig = tempDir('dapi-docker-config');
    apiPort = await freePort();
    webPort = await freePort();
    stackPort = await freePort();
    cluster.startSchedulerArgs = ['--docker-api-addr', `tcp://127.0.0.1:${apiPort}`, '--docker-api-addr', `unix://${socket}`];
    await cluster.start([node]);
    // The bundle users get from `pisched admin issue`: the same directory serves DOCKER_CERT_PATH.
    const issued = await cli(cluster.address, ['admin', 'issue', adminName, '--out', bundle]);
    expect(issued.code, issued.stderr).toBe(0);
    for (const file of ['ca.pem', 'cert.pem', 'key.pem']) expect(fs.existsSync(path.join(bundle, file))).toBe(true);
    expect(fs.statSync(path.join(bundle, 'key.pem')).mode & 0o777).toBe(0o600);
  });

  afterAll(async () => {
    await cluster.stop();
  });

  it('lists the nodes pisched lists', async () => {
    const table = await ok(['node', 'ls']);
    expect(table).toMatch(new RegExp(`${node}\\s+\\S+\\s+Ready\\s+Active`));
    const ids = (await ok(['node', 'ls', '-q'])).trim().split('\n');
    const native = await cliJson<Array<{ id: string }>>(cluster.address, ['node', 'ls']);
    expect(ids.sort()).toEqual(native.map((n) => n.id).sort());
  });

  it('creates, lists, inspects, scales, updates and rolls back a service whose tasks really run', async () => {
    const created = await dockerCli(['service', 'create', '-d', '--name', web, '--replicas', '2', '-p', `${webPort}:80`, '--stop-grace-period', '1s', '--update-monitor', '1s', '--rollback-monitor', '1s', '--rollback-parallelism', '0', '--label', 'team=vision', TEST_IMAGE, 'httpd', '-f', '-p', '80']);
    expect(created.code, created.stderr).toBe(0);
    const id = created.stdout.trim();
    await waitFor(async () => (await service(web))?.replicas.running === 2, 60_000, `${web} to run 2 tasks`);
    expect(await runningContainersOfService(cluster.nodeIds, web)).toHaveLength(2);

    const ls = await ok(['service', 'ls', '--filter', `name=${web}`, '--filter', 'label=team=vision']);
    expect(ls).toMatch(new RegExp(`${id.slice(0, 12)}\\s+${web}\\s+replicated\\s+2/2\\s+${TEST_IMAGE}\\s+\\*:${webPort}->80/tcp`));
    const tasks = await cliJson<Array<{ id: string; slot: number; state: string }>>(cluster.address, ['ps', web]);
    const ps = await ok(['service', 'ps', '--no-trunc', '--format', '{{.ID}} {{.Name}} {{.CurrentState}}', web]);
    for (const task of tasks.filter((t) => t.state === 'running')) expect(ps).toContain(`${task.id} ${web}.${task.slot} Running`);

    const [inspected] = JSON.parse(await ok(['service', 'inspect', web]));
    expect(inspected).toMatchObject({ ID: id, Spec: { Name: web, Mode: { Replicated: { Replicas: 2 } }, EndpointSpec: { Ports: [{ PublishedPort: webPort, TargetPort: 80, PublishMode: 'ingress' }] } } });

    // Without -d the CLI follows the rollout through /services and /tasks?_up-to-date until it converges.
    await ok(['service', 'scale', `${web}=3`]);
    expect(await service(web)).toMatchObject({ replicas: { desired: 3, running: 3 } });

    await ok(['service', 'update', '--image', V2_IMAGE, '--update-parallelism', '2', web]);
    const updated = await cliJson<{ spec: { container: { image: string }; updateConfig: { parallelism: number; monitorMs: number }; labels: Record<string, string> } }>(cluster.address, ['inspect', web]);
    expect(updated.spec.container.image).toBe(V2_IMAGE);
    expect(updated.spec.labels).toEqual({ team: 'vision' });
    expect(updated.spec.updateConfig).toMatchObject({ parallelism: 2, monitorMs: 1000 });
    expect((await runningContainersOfService(cluster.nodeIds, web)).map((c) => c.Image)).toEqual(Array(3).fill(V2_IMAGE));

    await ok(['service', 'rollback', web]);
    expect((await service(web))?.image).toBe(TEST_IMAGE);
    await waitFor(async () => (await runningContainersOfService(cluster.nodeIds, web)).every((c) => c.Image === TEST_IMAGE), 30_000, 'the rollback');
  });

  it('creates a secret, gives it to a service and shows the service\'s logs', async () => {
    const secretId = (await ok(['secret', 'create', token, '-'], 'tok-value-42')).trim();
    const secrets = await cliJson<Array<{ id: string; name: string }>>(cluster.address, ['secret', 'ls']);
    expect(secrets).toContainEqual(expect.objectContaining({ id: secretId, name: token }));
    await ok(['service', 'create', '-d', '--name', app, '--secret', token, '--stop-grace-period', '1s', TEST_IMAGE, 'sh', '-c', `cat /run/secrets/${token}; echo; echo hello-docker-api; echo oops >&2; while true; do echo tick-$(date +%s); sleep 1; done`]);
    const logs = await waitFor(async () => {
      const run = await dockerCli(['service', 'logs', app]);
      return run.code === 0 && run.stdout.includes('hello-docker-api') && run.stderr.includes('oops') ? run : undefined;
    }, 60_000, `${app}'s logs`);
    expect(logs.stdout).toMatch(new RegExp(`^${app}\\.1\\.\\w+@\\S+\\s+\\| tok-value-42$`, 'm'));
    // Followed: with --tail 1, every tick after the first is written after the command started.
    const follow = spawn(DOCKER_CLI, ['service', 'logs', '-f', '--tail', '1', app], { env: dockerEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let followed = '';
    follow.stdout.on('data', (chunk) => (followed += chunk));
    try {
      await waitFor(() => (followed.match(/\| tick-\d+$/gm) ?? []).length >= 3, 30_000, 'docker service logs -f to print new lines');
    } finally {
      follow.kill();
    }
    const config = uniqueName('dapi-conf');
    await ok(['config', 'create', config, '-'], 'listen = 8080\n');
    const [shown] = JSON.parse(await ok(['config', 'inspect', config]));
    expect(Buffer.from(shown.Spec.Data, 'base64').toString()).toBe('listen = 8080\n');
    expect(await cliJson<Array<{ name: string }>>(cluster.address, ['config', 'ls'])).toContainEqual(expect.objectContaining({ name: config }));
    await ok(['config', 'rm', config]);
    // In use: Swarm's rule, enforced by the Control API's own handler.
    const inUse = await dockerCli(['secret', 'rm', token]);
    expect(inUse.code).not.toBe(0);
    expect(inUse.stderr).toContain(`is in use by service ${app}`);
  });

  it('drains a node and makes it active again', async () => {
    await ok(['node', 'update', '--availability', 'drain', '--label-add', 'zone=a', node]);
    const drained = (await cliJson<Array<{ id: string; availability: string; labels: Record<string, string> }>>(cluster.address, ['node', 'ls'])).find((n) => n.id === node);
    expect(drained).toMatchObject({ availability: 'drain', labels: { zone: 'a' } });
    await waitFor(async () => (await runningContainersOfService(cluster.nodeIds, web)).length === 0, 60_000, 'the drained node to stop its tasks');
    await ok(['node', 'update', '--availability', 'active', node]);
    await waitFor(async () => (await service(web))?.replicas.running === 3, 60_000, `${web} back on the active node`);
  });

  it('refuses what pisched cannot honour, naming the field, and changes nothing', async () => {
    const refused = await dockerCli(['service', 'create', '-d', '--name', uniqueName('dapi-job'), '--mode', 'global-job', TEST_IMAGE, 'true']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('Spec.Mode.GlobalJob is not supported by pisched');
    const tty = await dockerCli(['service', 'create', '-d', '--name', uniqueName('dapi-tty'), '-t', TEST_IMAGE, 'true']);
    expect(tty.stderr).toContain('Spec.TaskTemplate.ContainerSpec.TTY is not supported by pisched');
    expect((await services()).map((s) => s.name).sort()).toEqual([app, web].sort());
  });

  it('refuses TCP without a client certificate, and serves the owner-only unix socket', async () => {
    const ca = fs.readFileSync(path.join(bundle, 'ca.pem'));
    const refused = await new Promise<string>((resolve) => {
      const request = https.get({ host: '127.0.0.1', port: apiPort, path: '/_ping', ca }, (response) => resolve(`answered ${response.statusCode}`));
      request.on('error', (error) => resolve(error.message));
    });
    expect(refused).not.toMatch(/^answered/);
    expect(fs.statSync(socket).mode & 0o777).toBe(0o600);
    const viaSocket = await new Promise<string>((resolve, reject) => {
      http.get({ socketPath: socket, path: '/v1.41/services' }, (response) => {
        let body = '';
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () => resolve(body));
      }).on('error', reject);
    });
    expect((JSON.parse(viaSocket) as Array<{ Spec: { Name: string } }>).map((s) => s.Spec.Name).sort()).toEqual([app, web].sort());
  });

  it('deploys a stack from a Compose file, lists its services, tasks, network and secret, resolves its services by name and removes it all', async () => {
    const stack = uniqueName('dstk');
    const [front, back, network] = [`${stack}_front`, `${stack}_back`, `${stack}_default`];
    const before = (await services()).map((s) => s.name).sort();
    const dir = tempDir('dapi-stack');
    const file = path.join(dir, 'compose.yml');
    fs.writeFileSync(path.join(dir, 'tok.txt'), 'stack-secret-7');
    fs.writeFileSync(
      file,
      [
        'version: "3.8"',
        'services:',
        '  front:',
        `    image: ${TEST_IMAGE}`,
        '    command: ["httpd", "-f", "-p", "80"]',
        `    ports: ["${stackPort}:80"]`,
        '    stop_grace_period: 1s',
        '  back:',
        `    image: ${TEST_IMAGE}`,
        '    command: ["sh", "-c", "mkdir -p /www && echo back-ok > /www/index.html && exec httpd -f -p 80 -h /www"]',
        '    stop_grace_period: 1s',
        '    secrets: [tok]',
        'secrets:',
        '  tok:',
        '    file: ./tok.txt',
        '',
      ].join('\n'),
    );
    await ok(['stack', 'deploy', '-c', file, stack]);
    await waitFor(async () => (await service(front))?.replicas.running === 1 && (await service(back))?.replicas.running === 1, 60_000, `${stack}'s services to run`);
    expect(await ok(['stack', 'ls', '--format', '{{.Name}} {{.Services}}'])).toContain(`${stack} 2`);
    const listed = await ok(['stack', 'services', '--format', '{{.Name}} {{.Mode}} {{.Replicas}} {{.Ports}}', stack]);
    expect(listed.trim().split('\n').sort()).toEqual([`${back} replicated 1/1 `, `${front} replicated 1/1 *:${stackPort}->80/tcp`]);
    const ps = await ok(['stack', 'ps', '--format', '{{.Name}} {{.CurrentState}}', stack]);
    expect(ps).toMatch(new RegExp(`^${front}\\.1 Running`, 'm'));
    expect(ps).toMatch(new RegExp(`^${back}\\.1 Running`, 'm'));
    expect(await ok(['network', 'ls', '--filter', `label=com.docker.stack.namespace=${stack}`, '--format', '{{.Name}} {{.Driver}} {{.Scope}}'])).toBe(`${network} overlay swarm\n`);
    expect(await cliJson<Array<{ name: string }>>(cluster.address, ['network', 'ls'])).toContainEqual(expect.objectContaining({ name: network }));

    // front finds back by its Compose key and by its name on the stack's network (the agent's discovery DNS): the same VIP.
    const [frontContainer] = await runningContainersOfService(cluster.nodeIds, front);
    const vip = async (name: string) => /^Address:\s+(\d+\.\d+\.\d+\.\d+)\s*$/m.exec(await onEngine(['exec', frontContainer!.Id, 'nslookup', name]))?.[1];
    const byKey = await vip('back');
    expect(byKey).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(await vip(back)).toBe(byKey);
    // The stack's secret, made with its label and given to back as Swarm does.
    expect(await ok(['secret', 'ls', '--filter', `label=com.docker.stack.namespace=${stack}`, '--format', '{{.Name}}'])).toBe(`${stack}_tok\n`);
    const [backContainer] = await runningContainersOfService(cluster.nodeIds, back);
    expect(await onEngine(['exec', backContainer!.Id, 'cat', '/run/secrets/tok'])).toBe('stack-secret-7');

    // Deployed again unchanged: the secret is "updated" with its own value and the services with their own spec, replacing no task.
    const tasks = async () => (await Promise.all([front, back].map((name) => cliJson<Array<{ id: string }>>(cluster.address, ['ps', name])))).flat().map((t) => t.id).sort();
    const tasksBefore = await tasks();
    await ok(['stack', 'deploy', '-c', file, stack]);
    // The orchestrator runs every 250 ms: a replacement would have been made by now.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await tasks()).toEqual(tasksBefore);

    await ok(['stack', 'rm', stack]);
    expect((await services()).map((s) => s.name).sort()).toEqual(before);
    expect(await ok(['network', 'ls', '--format', '{{.Name}}'])).not.toContain(network);
    expect(await ok(['secret', 'ls', '--format', '{{.Name}}'])).not.toContain(stack);
    await waitFor(async () => (await containersOf(cluster.nodeIds)).every((c) => !c.Names.some((name) => name.includes(stack))), 30_000, `${stack}'s containers to go`);
    // And the node's engine network the agent made for it.
    await waitFor(async () => (await docker.listNetworks()).every((n) => n.Name !== dockerNetworkName(network)), 30_000, `${network}'s engine network to go`);
  });

  it('creates, inspects and removes a network with docker network, as pisched network does', async () => {
    const name = uniqueName('dnet');
    const id = (await ok(['network', 'create', '--driver', 'overlay', '--label', 'team=vision', name])).trim();
    const [inspected] = JSON.parse(await ok(['network', 'inspect', name]));
    expect(inspected).toMatchObject({ Id: id, Name: name, Scope: 'swarm', Labels: { team: 'vision' } });
    expect(await cliJson<Array<{ name: string }>>(cluster.address, ['network', 'ls'])).toContainEqual(expect.objectContaining({ name }));
    const attachable = await dockerCli(['network', 'create', '--driver', 'overlay', '--attachable', uniqueName('dnet')]);
    expect(attachable.stderr).toContain('NetworkCreate.Attachable is not supported by pisched');
    await ok(['network', 'rm', id.slice(0, 12)]);
    expect(await cliJson<Array<{ name: string }>>(cluster.address, ['network', 'ls'])).not.toContainEqual(expect.objectContaining({ name }));
  });

  it('refuses a stack that uses what pisched cannot honour, with the field named, before storing it', async () => {
    const stack = uniqueName('dstkbad');
    const dir = tempDir('dapi-stack-bad');
    const before = (await services()).map((s) => s.name).sort();
    const compose = (service: string[], networks: string[] = []) => {
      const file = path.join(dir, 'compose.yml');
      fs.writeFileSync(file, ['version: "3.8"', 'services:', '  one:', `    image: ${TEST_IMAGE}`, ...service, ...networks, ''].join('\n'));
      return file;
    };
    const attachable = await dockerCli(['stack', 'deploy', '-c', compose([], ['networks:', '  default:', '    attachable: true']), stack]);
    expect(attachable.code).not.toBe(0);
    expect(attachable.stderr).toContain('NetworkCreate.Attachable is not supported by pisched');
    expect(await ok(['network', 'ls', '--format', '{{.Name}}'])).not.toContain(stack);
    const tty = await dockerCli(['stack', 'deploy', '-c', compose(['    tty: true']), stack]);
    expect(tty.code).not.toBe(0);
    expect(tty.stderr).toContain('Spec.TaskTemplate.ContainerSpec.TTY is not supported by pisched');
    expect((await services()).map((s) => s.name).sort()).toEqual(before);
    // The CLI made the stack's network before it sent the refused service, as with Swarm: stack rm takes it away.
    await ok(['stack', 'rm', stack]);
    expect(await ok(['network', 'ls', '--format', '{{.Name}}'])).not.toContain(stack);
  });

  it('removes services and secrets', async () => {
    await ok(['service', 'rm', web, app]);
    await ok(['secret', 'rm', token]);
    expect(await services()).toEqual([]);
    await waitFor(async () => (await runningContainersOfService(cluster.nodeIds, app)).length === 0, 30_000, 'the containers to go');
  });

  it('refuses an admin bundle once it is revoked', async () => {
    const revoked = await cli(cluster.address, ['admin', 'revoke', adminName]);
    expect(revoked.code, revoked.stderr).toBe(0);
    const refused = await dockerCli(['service', 'ls']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/revoked/);
  });
});
