import { describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import type { Task } from '@pisched/api';
import { Store } from '../src/store/store';
import { StateMachine } from '../src/store/state-machine';
import { seedSecurity } from '../src/security/cluster-security';
import { newSecretsKey, openSecret, sealSecret } from '../src/security/secret-box';
import { fileObjectHandlers } from '../src/control/file-object-handlers';
import { checkFileReferences } from '../src/control/file-object-use';
import { filesForTasks } from '../src/dispatcher/task-files';
import { spec } from './fixtures';

const PLAIN = Buffer.from('correct horse battery staple');

describe('secret sealing (AES-256-GCM)', () => {
  it('opens what it sealed, and the sealed bytes do not hold the plaintext', () => {
    const key = newSecretsKey();
    const sealed = sealSecret(key, 'id1', PLAIN);
    expect(sealed.includes(PLAIN)).toBe(false);
    expect(sealed.length).toBe(PLAIN.length + 12 + 16);
    expect(openSecret(key, 'id1', sealed).equals(PLAIN)).toBe(true);
    // A fresh nonce each time: the same value never seals to the same bytes.
    expect(sealSecret(key, 'id1', PLAIN).equals(sealed)).toBe(false);
  });

  it('refuses another key, another secret\'s id, or tampered bytes, without data in the message', () => {
    const key = newSecretsKey();
    const sealed = sealSecret(key, 'id1', PLAIN);
    expect(() => openSecret(newSecretsKey(), 'id1', sealed)).toThrow('secret id1: sealed value does not open with the cluster\'s secrets key');
    expect(() => openSecret(key, 'id2', sealed)).toThrow(/does not open/);
    const tampered = Buffer.from(sealed);
    tampered[14] ^= 1;
    expect(() => openSecret(key, 'id1', tampered)).toThrow(/does not open/);
    expect(() => sealSecret(Buffer.alloc(16), 'id1', PLAIN)).toThrow('must be 32 bytes');
  });
});

/** A store whose log keeps every proposed entry, as Raft would write it to disk. */
function recordingStore(): { store: Store; entries: Uint8Array[] } {
  const store = new Store();
  const entries: Uint8Array[] = [];
  store.attach({ propose: async (data) => (entries.push(data), store.applyEntry(entries.length, data)) });
  return { store, entries };
}

type Handler = (call: { request: unknown }, callback: (error: grpc.ServiceError | null, value?: unknown) => void) => void;

function call<T>(handlers: Record<string, unknown>, name: string, request: unknown): Promise<T> {
  return new Promise((resolve, reject) => (handlers[name] as Handler)({ request }, (error, value) => (error ? reject(error) : resolve(value as T))));
}

async function clusterWithSecret() {
  const { store, entries } = recordingStore();
  await store.update((state) => seedSecurity(state, { ca: { certPem: 'CERT', keyPem: 'KEY' }, workerSecret: 'w', managerSecret: 'm' }, 1));
  let ids = 0;
  const handlers = fileObjectHandlers(store, { now: () => 10, newId: () => `id${++ids}` }) as unknown as Record<string, unknown>;
  const created = await call<{ secret: { id: string; sealedData: Buffer; size: number } }>(handlers, 'CreateSecret', { name: 'db-pass', data: PLAIN });
  return { store, entries, handlers, created };
}

describe('secrets in the store', () => {
  it('seals the value before it is proposed: no log entry, snapshot or answer carries the plaintext', async () => {
    const { store, entries, handlers, created } = await clusterWithSecret();
    expect(created.secret).toMatchObject({ id: 'id1', size: PLAIN.length });
    expect(created.secret.sealedData.length).toBe(0);
    expect(entries.length).toBe(2);
    for (const entry of entries) expect(Buffer.from(entry).includes(PLAIN)).toBe(false);
    expect(Buffer.from(store.state.snapshot()).includes(PLAIN)).toBe(false);
    expect(store.state.security!.secretsKey.length).toBe(32);
    const listed = await call<{ secrets: { sealedData: Buffer }[] }>(handlers, 'ListSecrets', {});
    expect(listed.secrets.map((secret) => secret.sealedData.length)).toEqual([0]);
    // A second secret reuses the key (one command, no security change).
    await call(handlers, 'CreateSecret', { name: 'other', data: Buffer.from('x') });
    expect(entries.length).toBe(3);
  });

  it('survives a snapshot and restore, and the restored value still opens', async () => {
    const { store } = await clusterWithSecret();
    const restored = new StateMachine();
    restored.restore(store.state.snapshot(), store.state.appliedIndex);
    const secret = restored.secrets.get('id1')!;
    expect(openSecret(restored.security!.secretsKey, secret.id, secret.sealedData).equals(PLAIN)).toBe(true);
  });

  it('refuses bad names, empty or oversized values and a name in use, changing nothing', async () => {
    const { store, handlers } = await clusterWithSecret();
    const version = store.state.appliedIndex;
    await expect(call(handlers, 'CreateSecret', { name: 'db-pass', data: PLAIN })).rejects.toMatchObject({ details: 'secret name db-pass is already in use' });
    await expect(call(handlers, 'CreateSecret', { name: 'a b', data: PLAIN })).rejects.toMatchObject({ details: expect.stringMatching(/^invalid secret name "a b"/) });
    await expect(call(handlers, 'CreateSecret', { name: 'big', data: Buffer.alloc(500 * 1024 + 1) })).rejects.toMatchObject({ details: 'secret too large: 512001 bytes, the limit is 512000 (500 KB)' });
    await expect(call(handlers, 'CreateConfig', { name: 'empty', data: Buffer.alloc(0) })).rejects.toMatchObject({ details: 'a config needs a value: the data given is empty' });
    await expect(call(handlers, 'CreateSecret', { name: 'keyless', data: PLAIN, labels: { ' ': 'x' } })).rejects.toMatchObject({ details: 'invalid secret label: a label needs a key' });
    expect(store.state.appliedIndex).toBe(version);
  });

  it('changes only the labels on update, as Swarm: the same value may be sent again, another is refused', async () => {
    const { store, handlers } = await clusterWithSecret();
    const labels = { 'com.docker.stack.namespace': 'app' };
    const read = Number(store.state.secrets.get('id1')!.meta!.version);
    const updated = await call<{ secret: { labels: Record<string, string>; meta: { version: number } } }>(handlers, 'UpdateSecret', { name: 'db-pass', version: read, data: PLAIN, labels });
    expect(updated.secret.labels).toEqual(labels);
    const now = Number(updated.secret.meta.version);
    expect(now).toBeGreaterThan(read);
    const before = store.state.appliedIndex;
    await expect(call(handlers, 'UpdateSecret', { name: 'db-pass', version: now, data: Buffer.from('other'), labels: {} })).rejects.toMatchObject({ details: 'only the labels of secret db-pass can be changed: its value cannot (create a new secret)' });
    await expect(call(handlers, 'UpdateSecret', { name: 'db-pass', version: read, labels: {} })).rejects.toMatchObject({ details: `update out of sequence: secret db-pass is at version ${now}, not ${read}; read it again` });
    expect(store.state.appliedIndex).toBe(before);
    // The value is still the one sealed at creation.
    const secret = store.state.secrets.get('id1')!;
    expect(openSecret(store.state.security!.secretsKey, secret.id, secret.sealedData).equals(PLAIN)).toBe(true);
    const { config } = await call<{ config: { meta: { version: number } } }>(handlers, 'CreateConfig', { name: 'conf', data: Buffer.from('a=1') });
    const version = Number(config.meta.version);
    await expect(call(handlers, 'UpdateConfig', { name: 'conf', version, data: Buffer.from('a=2'), labels: {} })).rejects.toMatchObject({ code: 3 });
    await expect(call(handlers, 'UpdateConfig', { name: 'conf', version, data: Buffer.from('a=1'), labels })).resolves.toMatchObject({ config: { labels } });
  });

  it('keeps the labels a secret or config is created with (how docker stack finds its own)', async () => {
    const { handlers } = await clusterWithSecret();
    const labels = { 'com.docker.stack.namespace': 'app' };
    await call(handlers, 'CreateSecret', { name: 'app_tok', data: PLAIN, labels });
    await call(handlers, 'CreateConfig', { name: 'app_conf', data: Buffer.from('a=1'), labels });
    const { secrets } = await call<{ secrets: { name: string; labels: Record<string, string> }[] }>(handlers, 'ListSecrets', {});
    expect(secrets.find((secret) => secret.name === 'app_tok')?.labels).toEqual(labels);
    const { configs } = await call<{ configs: { name: string; labels: Record<string, string> }[] }>(handlers, 'ListConfigs', {});
    expect(configs.find((config) => config.name === 'app_conf')?.labels).toEqual(labels);
  });

  it('refuses to remove a secret a service uses, naming the services, and removes it once none does', async () => {
    const { store, handlers } = await clusterWithSecret();
    const uses = spec('web', 1, { container: { image: 'x', secrets: [{ source: 'db-pass' }] } });
    await store.update(() => [
      { action: 'putService', putService: { id: 's1', meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: uses, previousSpec: null, updateStatus: null } },
      { action: 'putService', putService: { id: 's2', meta: { version: 0, createdAt: 1, updatedAt: 1 }, spec: { ...uses, name: 'api' }, previousSpec: null, updateStatus: null } },
    ]);
    await expect(call(handlers, 'RemoveSecret', { name: 'db-pass' })).rejects.toMatchObject({
      code: grpc.status.FAILED_PRECONDITION,
      details: 'secret db-pass is in use by services api, web: remove it from them first (update --secret-rm db-pass)',
    });
    await store.update(() => [{ action: 'removeService', removeService: 's1' }, { action: 'removeService', removeService: 's2' }]);
    await call(handlers, 'RemoveSecret', { name: 'db-pass' });
    expect(store.state.secrets.size).toBe(0);
  });

  it('refuses a spec naming a secret or config that does not exist', async () => {
    const { store } = await clusterWithSecret();
    expect(() => checkFileReferences(store.state, spec('web', 1, { container: { image: 'x', secrets: [{ source: 'db-pass' }] } }))).not.toThrow();
    expect(() => checkFileReferences(store.state, spec('web', 1, { container: { image: 'x', configs: [{ source: 'nope' }] } }))).toThrow(
      'config nope not found: create it first (pisched config create nope FILE)',
    );
  });

  it('gives a node the values of the secrets its tasks to run use, opened, and no others', async () => {
    const { store, handlers } = await clusterWithSecret();
    await call(handlers, 'CreateSecret', { name: 'unused', data: Buffer.from('not for this node') });
    await call(handlers, 'CreateConfig', { name: 'conf', data: Buffer.from('a=1') });
    const task = (id: string, desired: Task['desiredState'], secrets: string[]): Task => ({
      id, desiredState: desired, status: { state: 'RUNNING' }, spec: spec('web', 1, { container: { image: 'x', secrets: secrets.map((source) => ({ source })), configs: [{ source: 'conf' }] } }),
    }) as unknown as Task;
    const files = filesForTasks(store.state, [task('t1', 'RUNNING', ['db-pass']), task('t2', 'SHUTDOWN', ['unused'])]);
    expect(files.secrets.map((file) => [file.name, Buffer.from(file.data).toString()])).toEqual([['db-pass', PLAIN.toString()]]);
    expect(files.configs.map((file) => file.name)).toEqual(['conf']);
    expect(files.missing).toEqual([]);
    expect(filesForTasks(store.state, [task('t3', 'RUNNING', ['gone'])]).missing).toEqual(['secret gone']);
  });
});
