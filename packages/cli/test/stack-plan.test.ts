import { describe, expect, it } from 'vitest';
import { validateServiceSpec, type Service, type ServiceSpec } from '@pisched/api';
import { alignWithCurrent, planStack } from '../src/stack/stack-plan';
import { stackRows } from '../src/stack/render-stack';
import { ownFileObjects, planFileObjects, renderFileObjectChanges } from '../src/stack/file-object-plan';
import type { StackFileObject } from '../src/stack/convert-file-objects';

function spec(name: string, image: string, stack = 'app'): ServiceSpec {
  return validateServiceSpec({ name, container: { image, labels: stack === '' ? {} : { 'com.docker.stack.namespace': stack } } });
}

function service(s: ServiceSpec, id = `id-${s.name}`): Service {
  // As read back from the scheduler: same content, another key order.
  const reordered = Object.fromEntries(Object.entries(s).reverse()) as unknown as ServiceSpec;
  return { id, meta: { version: 3, createdAt: 0, updatedAt: 0 }, spec: { ...reordered, forceUpdate: 2 }, previousSpec: null, updateStatus: null } as Service;
}

describe('stack plans', () => {
  const existing = [service(spec('app_web', 'nginx:1')), service(spec('app_db', 'postgres:16')), service(spec('app_old', 'busybox')), service(spec('other_web', 'nginx:1', 'other'))];

  it('leaves equal services alone, updates changed ones with a diff, keeps or prunes dropped ones, ignores other stacks', async () => {
    const desired = await Promise.all([spec('app_web', 'nginx:1'), spec('app_db', 'postgres:17'), spec('app_new', 'redis')].map((s) =>
      alignWithCurrent(s, existing.find((e) => e.spec!.name === s.name), async () => [])));
    const kept = planStack('app', desired, existing, false);
    expect(kept.map((change) => [change.action, change.name])).toEqual([
      ['unchanged', 'app_web'], ['update', 'app_db'], ['create', 'app_new'], ['kept', 'app_old'],
    ]);
    expect(kept[1].diff).toEqual(['container.image: "postgres:16" -> "postgres:17"']);
    expect(planStack('app', desired, existing, true).map((change) => change.action)).toEqual(['unchanged', 'update', 'create', 'remove']);
  });

  it('carries over the --force counter and the image\'s platforms, and reads a new image\'s', async () => {
    const current = service(validateServiceSpec({ ...spec('app_web', 'nginx:1'), placement: { platforms: [{ os: 'linux', architecture: 'arm64' }] } }));
    const same = await alignWithCurrent(spec('app_web', 'nginx:1'), current, async () => { throw new Error('not asked for the same image'); });
    expect([same.forceUpdate, same.placement!.platforms]).toEqual([2, [{ os: 'linux', architecture: 'arm64' }]]);
    const changed = await alignWithCurrent(spec('app_web', 'nginx:2'), current, async () => [{ os: 'linux', architecture: 'amd64' }]);
    expect(changed.placement!.platforms).toEqual([{ os: 'linux', architecture: 'amd64' }]);
  });

  it('does not take over a service of the same name outside the stack', () => {
    const loose = [service(spec('app_web', 'nginx:1', ''))];
    expect(() => planStack('app', [spec('app_web', 'nginx:1')], loose, false)).toThrow('service app_web already exists and is not part of a stack');
  });

  it('lists stacks from their services\' labels', () => {
    const summaries = existing.map((s) => ({ service: s, desired: 1, running: 1, completed: 0 }));
    expect(stackRows(summaries)).toEqual([{ name: 'app', services: 3 }, { name: 'other', services: 1 }]);
  });
});

describe('stack secrets and configs', () => {
  const meta = { version: 1, createdAt: 0, updatedAt: 0 };
  const secret = (name: string, size: number) => ({ id: `s-${name}`, meta, name, sealedData: Buffer.alloc(0), size, labels: {} });
  const config = (name: string, data: string) => ({ id: `c-${name}`, meta, name, data: Buffer.from(data), labels: {} });
  const created = (kind: 'secret' | 'config', key: string, data: string): StackFileObject => ({ kind, key, name: `app_${key}`, external: false, data: Buffer.from(data) });
  const external = (kind: 'secret' | 'config', name: string): StackFileObject => ({ kind, key: name, name, external: true });

  it('creates missing ones, reuses identical ones, only looks up external ones', () => {
    const existing = { secret: [secret('app_same', 3), secret('shared_pw', 9)], config: [config('app_conf', 'a=1')] };
    const changes = planFileObjects([created('secret', 'new', 'pw'), created('secret', 'same', 'abc'), external('secret', 'shared_pw'), created('config', 'conf', 'a=1')], existing);
    expect(changes.map((change) => [change.action, change.object.name])).toEqual([
      ['create', 'app_new'], ['unchanged', 'app_same'], ['external', 'shared_pw'], ['unchanged', 'app_conf'],
    ]);
    expect(renderFileObjectChanges(changes)).toBe('create secret app_new\nunchanged secret app_same\nuse external secret shared_pw\nunchanged config app_conf\n');
  });

  it('refuses changed content (immutable, as in Swarm) and a missing external one, with one line', () => {
    const existing = { secret: [secret('app_pw', 3)], config: [config('app_conf', 'a=1')] };
    expect(() => planFileObjects([created('config', 'conf', 'a=2')], existing)).toThrow(
      'config app_conf already exists with other content and configs cannot be changed: rename conf in the file (e.g. conf_v2) and deploy again',
    );
    expect(() => planFileObjects([created('secret', 'pw', 'longer')], existing)).toThrow('secret app_pw already exists with other content');
    expect(() => planFileObjects([external('secret', 'nope')], existing)).toThrow(
      'external secret nope does not exist: create it first with pisched secret create nope FILE',
    );
  });

  it('stack rm removes what the stack\'s services use under its prefix, not external ones', () => {
    const withFiles = (name: string, secrets: string[], configs: string[]) =>
      service(validateServiceSpec({ name, container: { image: 'x', labels: { 'com.docker.stack.namespace': 'app' }, secrets: secrets.map((source) => ({ source })), configs: configs.map((source) => ({ source })) } }));
    const own = ownFileObjects('app', [withFiles('app_web', ['app_pw', 'shared_pw'], ['app_conf']), withFiles('app_db', ['app_pw'], [])]);
    expect(own).toEqual([{ kind: 'secret', name: 'app_pw' }, { kind: 'config', name: 'app_conf' }]);
  });
});
