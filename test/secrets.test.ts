import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BIN, Cluster, TEST_IMAGE, cli, cliJson, docker, dockerAvailable, runningContainersOfService, tempDir, uniqueName, waitFor } from './harness';
import { demultiplex } from '../packages/agent/src/docker-log-stream';

const hasDocker = await dockerAvailable();

async function exec(containerId: string, cmd: string[]): Promise<{ code: number; stdout: string }> {
  const run = await docker.getContainer(containerId).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await run.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  await new Promise((resolve) => stream.once('end', resolve));
  const { ExitCode } = await run.inspect();
  return { code: ExitCode ?? -1, stdout: demultiplex(Buffer.concat(chunks)).stdout.toString() };
}

/** The host's mount points under a directory, as this process's mount namespace (dockerd's) sees them. */
function mountsUnder(dir: string): string[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean)
    .map((line) => line.split(' ')[4])
    .filter((point) => point === dir || point.startsWith(`${dir}/`));
}

/** Every file under dir whose bytes contain needle (a grep -r that also reads binary files such as SQLite's). */
function filesContaining(dir: string, needle: string): string[] {
  const found: string[] = [];
  const walk = (at: string): void => {
    for (const entry of fs.readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && fs.readFileSync(full).includes(needle)) found.push(full);
    }
  };
  walk(dir);
  return found;
}

describe.skipIf(!hasDocker)('secrets and configs on real containers', () => {
  const cluster = new Cluster();
  const nodeA = uniqueName('sec-a');
  const nodeB = uniqueName('sec-b');
  const secretsDirs: Record<string, string> = { [nodeA]: tempDir('sec-files-a'), [nodeB]: tempDir('sec-files-b') };
  const service = uniqueName('sec-app');
  const dbPass = uniqueName('db-pass');
  const apiKey = uniqueName('api-key');
  const appConf = uniqueName('app-conf');
  // Unlike anything else in the files searched, so a hit can only be the value.
  const dbValue = `pw-${process.pid}-${Math.random().toString(36).slice(2)}-plaintext`;
  const apiValue = `key-${process.pid}-${Math.random().toString(36).slice(2)}-plaintext`;
  const confValue = `listen = 8080 # ${process.pid}\n`;
  let containerId = '';

  beforeAll(async () => {
    await cluster.start([nodeA, nodeB], (id) => ['--secrets-dir', secretsDirs[id], '--labels', `role=${id === nodeA ? 'a' : 'b'}`]);
    const files = tempDir('sec-input');
    fs.writeFileSync(path.join(files, 'db'), dbValue);
    fs.writeFileSync(path.join(files, 'conf'), confValue);
    const created = await Promise.all([
      cli(cluster.address, ['secret', 'create', dbPass, path.join(files, 'db')]),
      cli(cluster.address, ['config', 'create', appConf, path.join(files, 'conf')]),
    ]);
    for (const result of created) expect(result.code, result.stderr).toBe(0);
    // From stdin, as `printf … | pisched secret create NAME -`.
    const admin = path.join(cluster.scheduler.dataDir, 'admin');
    execFileSync(process.execPath, [BIN.cli, '--scheduler', cluster.address, '--tls-dir', admin, 'secret', 'create', apiKey, '-'], { input: apiValue });
    fs.rmSync(files, { recursive: true, force: true });

    const run = await cli(cluster.address, [
      'run', '--name', service, '--constraint', 'node.labels.role==a', '--stop-grace-period', '1s',
      '--secret', `${dbPass},uid=1000,mode=0400`,
      '--secret', `source=${apiKey},target=/etc/app/key`,
      '--config', appConf,
      TEST_IMAGE, 'sleep', '3600',
    ]);
    expect(run.code, run.stderr + cluster.logs()).toBe(0);
    containerId = (await runningContainersOfService([nodeA], service))[0].Id;
  });

  afterAll(async () => {
    await cluster.stop();
    // Agents stopped with containers running leave their tmpfs mounted (that is what an agent restart keeps): unmount here.
    for (const dir of Object.values(secretsDirs)) for (const point of mountsUnder(dir).reverse()) execFileSync('umount', [point]);
  });

  it('gives the container each file with its content, owner and mode, on tmpfs', async () => {
    expect((await exec(containerId, ['cat', `/run/secrets/${dbPass}`])).stdout).toBe(dbValue);
    expect((await exec(containerId, ['stat', '-c', '%a %u %g', `/run/secrets/${dbPass}`])).stdout.trim()).toBe('400 1000 0');
    expect((await exec(containerId, ['cat', '/etc/app/key'])).stdout).toBe(apiValue);
    expect((await exec(containerId, ['stat', '-c', '%a', '/etc/app/key'])).stdout.trim()).toBe('444');
    expect((await exec(containerId, ['cat', `/${appConf}`])).stdout).toBe(confValue);
    const mounts = (await exec(containerId, ['cat', '/proc/mounts'])).stdout;
    for (const target of [`/run/secrets/${dbPass}`, '/etc/app/key', `/${appConf}`]) {
      expect(mounts).toMatch(new RegExp(`^tmpfs ${target.replace(/[.]/g, '\\.')} tmpfs ro[, ]`, 'm'));
    }
    expect((await exec(containerId, ['sh', '-c', `echo x > /run/secrets/${dbPass}`])).code).not.toBe(0);
    // On the node: one tmpfs, under node A's secrets dir, and nothing under node B's.
    const [mount] = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((line) => line.split(' ')[4]?.startsWith(`${secretsDirs[nodeA]}/`));
    expect(mount).toMatch(/ - tmpfs tmpfs /);
    expect(mountsUnder(secretsDirs[nodeB])).toEqual([]);
  });

  it('keeps values off the agents\' data dirs, off the node without such a task, and out of every answer and log', async () => {
    const agentDirs = cluster.dirs.slice(1);
    expect(agentDirs).toHaveLength(2);
    for (const dir of [...agentDirs, secretsDirs[nodeB]]) {
      expect(filesContaining(dir, dbValue), dir).toEqual([]);
      expect(filesContaining(dir, apiValue), dir).toEqual([]);
    }
    const answers = await Promise.all([
      cli(cluster.address, ['inspect', service, '--json']),
      cli(cluster.address, ['inspect', service]),
      cli(cluster.address, ['ps', service, '--json']),
      cli(cluster.address, ['secret', 'ls', '--json']),
      cli(cluster.address, ['secret', 'inspect', dbPass, '--json']),
      cli(cluster.address, ['secret', 'inspect', apiKey]),
    ]);
    for (const answer of answers) {
      expect(answer.code, answer.stderr).toBe(0);
      expect(answer.stdout + answer.stderr).not.toContain(dbValue);
      expect(answer.stdout + answer.stderr).not.toContain(apiValue);
    }
    expect(answers[0].stdout).toContain(`/run/secrets/${dbPass}`);
    expect(JSON.parse(answers[4].stdout)).toMatchObject({ name: dbPass, size: dbValue.length });
    // A config is not secret: inspect shows it.
    const config = await cliJson<{ data: string }>(cluster.address, ['config', 'inspect', appConf]);
    expect(Buffer.from(config.data, 'base64').toString()).toBe(confValue);
    const logs = cluster.logs() + cluster.daemons.map((daemon) => daemon.output).join('');
    expect(logs).not.toContain(dbValue);
    expect(logs).not.toContain(apiValue);
  });

  it('keeps the plaintext out of the scheduler\'s SQLite files (log, snapshot, WAL)', () => {
    const dataDir = cluster.scheduler.dataDir;
    const sqlite = fs.readdirSync(dataDir).filter((name) => /\.db(-wal|-shm)?$/.test(name));
    expect(sqlite.length).toBeGreaterThan(0);
    // The grep can find: the secret's name is there, beside its sealed value.
    expect(filesContaining(dataDir, dbPass).length).toBeGreaterThan(0);
    expect(filesContaining(dataDir, dbValue)).toEqual([]);
    expect(filesContaining(dataDir, apiValue)).toEqual([]);
  });

  it('refuses to remove a secret in use, naming the service, and bad input with one line that changes nothing', async () => {
    const refused = await cli(cluster.address, ['secret', 'rm', dbPass]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr.trim()).toBe(`secret ${dbPass} is in use by service ${service}: remove it from them first (update --secret-rm ${dbPass})`);
    const before = await cliJson<{ name: string }[]>(cluster.address, ['secret', 'ls']);
    expect(before.map((row) => row.name).sort()).toEqual([apiKey, dbPass].sort());
    const version = (await cliJson<{ version: number }>(cluster.address, ['inspect', service])).version;

    const big = tempDir('sec-big');
    fs.writeFileSync(path.join(big, 'v'), Buffer.alloc(600 * 1024, 1));
    // Independent refusals, asked at once to keep the file short.
    const [badMode, unknown, unknownUpdate, badName, tooBig] = await Promise.all([
      cli(cluster.address, ['run', '--name', uniqueName('sec-bad'), '-d', '--secret', `${dbPass},mode=0999`, TEST_IMAGE, 'true']),
      cli(cluster.address, ['run', '--name', uniqueName('sec-bad'), '-d', '--secret', 'no-such-secret', TEST_IMAGE, 'true']),
      cli(cluster.address, ['update', '-d', '--secret-add', 'no-such-secret', service]),
      cli(cluster.address, ['secret', 'create', 'bad!name', '/dev/null']),
      cli(cluster.address, ['secret', 'create', uniqueName('sec-big'), path.join(big, 'v')]),
    ]);
    expect(badMode.stderr.trim()).toMatch(/^[^\n]*invalid --secret "[^"]+": invalid mode "0999": use octal permission bits such as 0400$/);
    expect(unknown.stderr.trim()).toBe('secret no-such-secret not found: create it first (pisched secret create no-such-secret FILE)');
    expect(unknownUpdate.stderr.trim()).toBe('secret no-such-secret not found: create it first (pisched secret create no-such-secret FILE)');
    expect(badName.stderr.trim()).toMatch(/^invalid secret name "bad!name": use letters, digits/);
    expect(tooBig.stderr.trim()).toBe('secret too large: 614400 bytes, the limit is 512000 (500 KB)');
    for (const result of [badMode, unknown, unknownUpdate, badName, tooBig]) expect(result.code).not.toBe(0);

    expect((await cliJson<{ name: string }[]>(cluster.address, ['ls'])).map((row) => row.name)).toEqual([service]);
    expect((await cliJson<{ version: number }>(cluster.address, ['inspect', service])).version).toBe(version);
    expect((await cliJson<{ name: string }[]>(cluster.address, ['secret', 'ls'])).map((row) => row.name).sort()).toEqual([apiKey, dbPass].sort());
  });

  it('rolls the tasks on update --secret-rm, and unmounts each task\'s tmpfs once the task ends', async () => {
    const oldTaskDirs = fs.readdirSync(secretsDirs[nodeA]);
    expect(oldTaskDirs).toHaveLength(1);
    const updated = await cli(cluster.address, ['update', '--secret-rm', apiKey, service]);
    expect(updated.code, updated.stderr + cluster.logs()).toBe(0);
    const [fresh] = await waitFor(async () => {
      const running = await runningContainersOfService([nodeA], service);
      return running.length === 1 && running[0].Id !== containerId ? running : undefined;
    }, 30_000, 'the new task');
    expect((await exec(fresh.Id, ['cat', '/etc/app/key'])).code).not.toBe(0);
    expect((await exec(fresh.Id, ['cat', `/run/secrets/${dbPass}`])).stdout).toBe(dbValue);
    // The old task ended: its files went with it, though its stopped container is kept for history.
    await waitFor(() => !fs.existsSync(path.join(secretsDirs[nodeA], oldTaskDirs[0])), 20_000, 'the old task\'s files to go');
    expect(mountsUnder(path.join(secretsDirs[nodeA], oldTaskDirs[0]))).toEqual([]);
    expect((await cli(cluster.address, ['secret', 'rm', apiKey])).code, 'no longer used').toBe(0);

    expect((await cli(cluster.address, ['rm', service])).code).toBe(0);
    await waitFor(async () => (await docker.listContainers({ all: true, filters: { label: [`pisched.service=${service}`] } })).length === 0, 30_000, 'the containers to go');
    await waitFor(() => mountsUnder(secretsDirs[nodeA]).length === 0 && fs.readdirSync(secretsDirs[nodeA]).length === 0, 20_000, 'the tmpfs to be unmounted and its directory removed');
    expect((await cli(cluster.address, ['secret', 'rm', dbPass])).code).toBe(0);
    expect((await cliJson<unknown[]>(cluster.address, ['secret', 'ls']))).toEqual([]);
  });
});
