import { afterAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { parse } from 'yaml';
import type { Config, FileKind, Secret, Service, ServiceSpecInput } from '@pisched/api';
import type { SchedulerClient } from '../src/scheduler-client';
import { buildProgram } from '../src/program';
import { Context } from '../src/context';

const FIXTURES = path.join(__dirname, 'stack-fixtures');

/** Runs the CLI in-process on argv; resolves with what it wrote, or the error it threw. */
async function run(argv: string[], fake?: FakeScheduler): Promise<{ stdout: string; stderr: string; error?: Error }> {
  let stdout = '';
  let stderr = '';
  const out = new Writable({ write: (chunk, _encoding, done) => { stdout += String(chunk); done(); } });
  const err = new Writable({ write: (chunk, _encoding, done) => { stderr += String(chunk); done(); } });
  // 127.0.0.1:9 (discard): a deploy that got as far as asking the scheduler would fail with "unreachable".
  const context = new Context(() => '127.0.0.1:9', out, async () => [], err);
  if (fake) context.client = () => fake as unknown as SchedulerClient;
  try {
    await buildProgram(context).parseAsync(argv, { from: 'user' });
    return { stdout, stderr };
  } catch (error) {
    return { stdout, stderr, error: error as Error };
  } finally {
    context.close();
  }
}

describe('stack commands without a scheduler', () => {
  it('stack config prints the merged, interpolated files', async () => {
    const result = await run(['stack', 'config', '-c', path.join(FIXTURES, 'all-keys.yml'), '-c', path.join(FIXTURES, 'override.yml')]);
    expect(result.error).toBeUndefined();
    const model = parse(result.stdout) as { services: Record<string, { image: string; environment: Record<string, unknown>; deploy: { replicas: number } }> };
    expect(model.services.sensor.image).toBe('registry.local/sensor:2.0');
    expect(model.services.sensor.deploy.replicas).toBe(5);
    expect(model.services.sensor.environment).toMatchObject({ MODE: 'prod', EXTRA: '1', PRICE: '$5' });
  });

  it('stack config --json and the warning line for ignored keys', async () => {
    const result = await run(['stack', 'config', '--json', '-c', path.join(FIXTURES, 'awesome-compose-wordpress-mysql', 'compose.yaml')]);
    expect(Object.keys(JSON.parse(result.stdout).services)).toEqual(['db', 'wordpress', 'phpmyadmin']);
    expect(result.stderr).toBe('warning: ignoring unsupported options: restart (db, wordpress, phpmyadmin), depends_on (phpmyadmin)\n');
  });

  it('stack deploy of a bad file fails on the file before asking the scheduler anything', async () => {
    const result = await run(['stack', 'deploy', '-c', path.join(FIXTURES, 'all-keys.yml'), '-c', path.join(FIXTURES, 'missing.yml'), 'iot']);
    expect(result.error?.message).toMatch(/^cannot read compose file .*missing\.yml: ENOENT$/);
    const noFile = await run(['stack', 'deploy', 'iot']);
    expect(noFile.error?.message).toBe('a compose file is required: -c FILE');
  });
});

/** The calls a stack deploy and rm make, in order, against a scheduler held in memory. */
class FakeScheduler {
  calls: string[] = [];
  services: Service[] = [];
  objects: Record<FileKind, (Secret | Config)[]> = { secret: [], config: [] };
  networks: string[] = [];

  async listNetworks() {
    return this.networks.map((name) => ({ id: name, meta: null, name }));
  }
  async createNetwork(name: string) {
    this.calls.push(`create network ${name}`);
    this.networks.push(name);
    return { id: name, meta: null, name };
  }
  async removeNetwork(name: string) {
    this.calls.push(`remove network ${name}`);
    this.networks = this.networks.filter((network) => network !== name);
  }

  async listServices() {
    return this.services.map((service) => ({ service, desired: 1, running: 1, completed: 0 }));
  }
  async listFileObjects(kind: FileKind) {
    return this.objects[kind];
  }
  async createFileObject(kind: FileKind, name: string, data: Uint8Array) {
    this.calls.push(`create ${kind} ${name} ${Buffer.from(data).toString()}`);
    const object = kind === 'secret' ? { id: name, meta: null, name, sealedData: Buffer.alloc(0), size: data.length } : { id: name, meta: null, name, data: Buffer.from(data) };
    this.objects[kind].push(object as Secret | Config);
    return object;
  }
  async removeFileObject(kind: FileKind, name: string) {
    this.calls.push(`remove ${kind} ${name}`);
    this.objects[kind] = this.objects[kind].filter((object) => object.name !== name);
  }
  async createService(spec: ServiceSpecInput) {
    this.calls.push(`create service ${spec.name} ${spec.container!.secrets!.map((ref) => `${ref.source}:${ref.target}`).join(',')}`);
    this.services.push({ id: spec.name!, meta: { version: 1, createdAt: 0, updatedAt: 0 }, spec, previousSpec: null, updateStatus: null } as unknown as Service);
  }
  async updateService(id: string, _version: number, spec: ServiceSpecInput) {
    this.calls.push(`update service ${spec.name}`);
    const service = this.services.find((candidate) => candidate.id === id)!;
    service.spec = spec as Service['spec'];
    return service;
  }
  async listTasks() {
    return [];
  }
  async removeService(id: string) {
    this.calls.push(`remove service ${id}`);
    this.services = this.services.filter((service) => service.id !== id);
  }
  async planService() {
    return [];
  }
}

describe('stack secrets and configs against a scheduler held in memory', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-stack-secrets-'));
  const file = path.join(dir, 'compose.yml');
  fs.writeFileSync(path.join(dir, 'pw.txt'), 's3cret');
  const compose = (extra = '') =>
    fs.writeFileSync(file, `services:\n  web:\n    image: busybox\n    secrets: [pw${extra ? ', ext' : ''}]\nsecrets:\n  pw: {file: ./pw.txt}\n${extra}`);

  it('creates the secret before the service, reuses it on a re-deploy, and stack rm removes it after the service', async () => {
    compose();
    const fake = new FakeScheduler();
    const dry = await run(['stack', 'deploy', '--dry-run', '-c', file, 'app'], fake);
    expect(dry.error).toBeUndefined();
    expect(dry.stdout).toContain('create secret app_pw\n');
    expect(dry.stdout).toContain('create network app_default\n');
    expect(fake.calls).toEqual([]);
    expect((await run(['stack', 'deploy', '-d', '-c', file, 'app'], fake)).error).toBeUndefined();
    // The stack's services share one network, app_default, made before them as Swarm does.
    expect(fake.calls).toEqual(['create network app_default', 'create secret app_pw s3cret', 'create service app_web app_pw:/run/secrets/pw']);
    expect(fake.services[0]!.spec!.networks).toEqual(['app_default']);
    fake.calls = [];
    expect((await run(['stack', 'deploy', '-d', '-c', file, 'app'], fake)).error).toBeUndefined();
    expect(fake.calls).toEqual([]);
    expect((await run(['stack', 'rm', 'app'], fake)).error).toBeUndefined();
    expect(fake.calls).toEqual(['remove service app_web', 'remove network app_default', 'remove secret app_pw']);
  });

  it('--prune removes a created secret no service uses any more, after the services', async () => {
    compose();
    const fake = new FakeScheduler();
    expect((await run(['stack', 'deploy', '-d', '-c', file, 'app'], fake)).error).toBeUndefined();
    fs.writeFileSync(file, 'services:\n  web:\n    image: busybox\n');
    fake.calls = [];
    const kept = await run(['stack', 'deploy', '--dry-run', '-c', file, 'app'], fake);
    expect(kept.stdout).not.toContain('remove secret');
    const dry = await run(['stack', 'deploy', '--dry-run', '--prune', '-c', file, 'app'], fake);
    expect(dry.stdout).toContain('remove secret app_pw\n');
    expect((await run(['stack', 'deploy', '-d', '--prune', '-c', file, 'app'], fake)).error).toBeUndefined();
    expect(fake.calls).toEqual(['update service app_web', 'remove secret app_pw']);
  });

  it('refuses a changed secret and a missing external one before any change', async () => {
    compose();
    const fake = new FakeScheduler();
    fake.objects.secret.push({ id: 'x', meta: null, name: 'app_pw', sealedData: Buffer.alloc(0), size: 3 } as unknown as Secret);
    const changed = await run(['stack', 'deploy', '-d', '-c', file, 'app'], fake);
    expect(changed.error?.message).toBe('secret app_pw already exists with other content and secrets cannot be changed: rename pw in the file (e.g. pw_v2) and deploy again');
    fake.objects.secret = [];
    compose('  ext: {external: true}\n');
    const missing = await run(['stack', 'deploy', '-d', '-c', file, 'app'], fake);
    expect(missing.error?.message).toBe('external secret ext does not exist: create it first with pisched secret create ext FILE');
    expect(fake.calls).toEqual([]);
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
});
