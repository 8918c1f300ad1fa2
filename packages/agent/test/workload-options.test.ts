import { describe, expect, it } from 'vitest';
import { validateServiceSpec } from '@pisched/api';
import { buildContainerSpec } from '../src/container-spec';
import { makeTask } from './fixtures';

type ContainerInput = NonNullable<Parameters<typeof validateServiceSpec>[0]['container']>;
/** A task whose spec went through validation, as every spec the agent receives has. */
const taskWith = (container: Partial<ContainerInput>) =>
  makeTask({ spec: validateServiceSpec({ name: 'db', container: { image: 'postgres', ...container } }) });

describe('the engine create request: mounts, privileges, identity and logs', () => {
  it('maps every option to its Docker field', () => {
    const options = buildContainerSpec(
      taskWith({
        mounts: [
          { type: 'bind', source: '/srv/data', target: '/data', readOnly: true },
          { type: 'volume', source: 'pgdata', target: '/var/lib/postgresql' },
          { type: 'volume', source: 'nfsdata', target: '/nfs', volumeOptions: { type: 'nfs', o: 'addr=10.0.0.1' } },
          { type: 'tmpfs', target: '/run/cache', tmpfsSizeBytes: 64 * 1024 * 1024 },
        ],
        capAdd: ['NET_ADMIN'],
        capDrop: ['MKNOD'],
        privileged: true,
        user: '1000:1000',
        groupAdd: ['dialout'],
        workdir: '/app',
        entrypoint: ['/bin/sh', '-c'],
        hostname: 'pi-db',
        labels: { team: 'home' },
        readOnly: true,
        sysctls: { 'net.core.somaxconn': '1024' },
        ulimits: [{ name: 'nofile', soft: 1024, hard: 2048 }],
        dns: ['1.1.1.1'],
        logConfig: { driver: 'local', options: { 'max-size': '5m' } },
      }),
      'pi-2',
    );
    expect(options).toMatchObject({ User: '1000:1000', WorkingDir: '/app', Entrypoint: ['/bin/sh', '-c'], Hostname: 'pi-db' });
    expect(options.Labels).toMatchObject({ team: 'home', 'pisched.node': 'pi-2' });
    expect(options.HostConfig).toMatchObject({
      Mounts: [
        { Type: 'bind', Source: '/srv/data', Target: '/data', ReadOnly: true },
        { Type: 'volume', Source: 'pgdata', Target: '/var/lib/postgresql', ReadOnly: false },
        { Type: 'volume', Source: 'nfsdata', Target: '/nfs', VolumeOptions: { DriverConfig: { Name: 'local', Options: { type: 'nfs', o: 'addr=10.0.0.1' } } } },
        { Type: 'tmpfs', Target: '/run/cache', TmpfsOptions: { SizeBytes: 64 * 1024 * 1024 } },
      ],
      CapAdd: ['NET_ADMIN'],
      CapDrop: ['MKNOD'],
      Privileged: true,
      GroupAdd: ['dialout'],
      ReadonlyRootfs: true,
      Sysctls: { 'net.core.somaxconn': '1024' },
      Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 2048 }],
      Dns: ['1.1.1.1'],
      LogConfig: { Type: 'local', Config: { 'max-size': '5m' } },
    });
    // A volume without driver settings is left to the engine's default (local), created on first use.
    expect(options.HostConfig!.Mounts![1].VolumeOptions).toBeUndefined();
  });

  it('sends nothing the spec does not set, so the image\'s user, workdir and entrypoint apply, but always a rotating log', () => {
    const options = buildContainerSpec(taskWith({}), 'pi-2');
    expect([options.User, options.WorkingDir, options.Entrypoint, options.Hostname]).toEqual([undefined, undefined, undefined, undefined]);
    const host = options.HostConfig!;
    expect([host.Mounts, host.CapAdd, host.Privileged, host.ReadonlyRootfs, host.NetworkMode, host.Sysctls, host.Dns]).toEqual(Array(7).fill(undefined));
    expect(host.LogConfig).toEqual({ Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } });
    // A task stored before these fields existed gets the same.
    expect(buildContainerSpec(makeTask(), 'n').HostConfig!.LogConfig).toEqual(host.LogConfig);
  });

  it('uses the node\'s network stack for --network host', () => {
    expect(buildContainerSpec(taskWith({ network: 'host' }), 'n').HostConfig!.NetworkMode).toBe('host');
  });

  it('keeps the agent\'s labels over the spec\'s even if a spec slipped one in', () => {
    const task = taskWith({});
    task.spec!.container!.labels = { 'pisched.node': 'someone-else' };
    expect(buildContainerSpec(task, 'pi-2').Labels!['pisched.node']).toBe('pi-2');
  });
});
