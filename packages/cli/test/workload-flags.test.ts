import { describe, expect, it } from 'vitest';
import { validateServiceSpec, type Service } from '@pisched/api';
import { buildRunSpec } from '../src/commands/run';
import { buildUpdatedSpec } from '../src/commands/update';
import { renderService } from '../src/commands/inspect';
import { parseMount } from '../src/mount-flags';
import { CliError } from '../src/errors';

const MiB = 1024 * 1024;

describe('--mount', () => {
  it('reads Docker\'s syntax and aliases', () => {
    expect(parseMount('type=bind,src=/srv/data,dst=/data,ro')).toMatchObject({ type: 'bind', source: '/srv/data', target: '/data', readOnly: true });
    expect(parseMount('type=volume,source=nfs,target=/nfs,volume-driver=local,volume-opt=type=nfs,volume-opt=o=addr=10.0.0.1,readonly=false')).toMatchObject({
      type: 'volume',
      volumeDriver: 'local',
      volumeOptions: { type: 'nfs', o: 'addr=10.0.0.1' },
      readOnly: false,
    });
    expect(parseMount('type=tmpfs,destination=/cache,tmpfs-size=64m').tmpfsSizeBytes).toBe(64 * MiB);
  });

  it.each([
    ['type=bind,source=/a,target=/b,mode=ro', 'invalid --mount "type=bind,source=/a,target=/b,mode=ro": unknown key "mode" (use type, source, target, readonly, volume-driver, volume-opt, tmpfs-size)'],
    ['source=/a,target=/b', 'invalid --mount "source=/a,target=/b": type is required (bind, volume or tmpfs)'],
    ['type=tmpfs', 'invalid --mount "type=tmpfs": target is required'],
    ['type=bind,source,target=/b', 'invalid --mount "type=bind,source,target=/b": source needs a value (source=...)'],
    ['type=tmpfs,target=/t,tmpfs-size=lots', 'invalid --mount "type=tmpfs,target=/t,tmpfs-size=lots": tmpfs-size "lots" is not a size such as 64m'],
    ['type=volume,source=v,target=/t,volume-opt=x', 'invalid --mount "type=volume,source=v,target=/t,volume-opt=x": volume-opt takes KEY=VALUE'],
  ])('refuses %s in one line', (text, message) => {
    expect(() => parseMount(text)).toThrow(CliError);
    expect(() => parseMount(text)).toThrow(message);
  });

  it('leaves what the values mean to the spec validation, as the scheduler would check them', () => {
    expect(() => buildRunSpec('pg', [], { name: 'db', mount: ['type=nfs,target=/x'] })).toThrow('invalid mount type "nfs": use bind, volume or tmpfs');
    expect(() => buildRunSpec('pg', [], { name: 'db', mount: ['type=bind,source=data,target=/x'] })).toThrow('invalid bind source "data": must be an absolute path');
  });
});

describe('run: privileges, identity and logs', () => {
  it('fills the container spec from the flags', () => {
    const spec = buildRunSpec('hass', [], {
      name: 'hass',
      mount: ['type=volume,source=hass-config,target=/config'],
      capAdd: ['net_admin'],
      capDrop: ['MKNOD'],
      privileged: true,
      user: '1000',
      groupAdd: ['dialout'],
      workdir: '/config',
      entrypoint: 'python3 -m homeassistant',
      containerLabel: ['team=home', 'tier=iot'],
      readOnly: true,
      ulimit: ['nofile=1024:2048', 'nproc=64'],
      dns: ['1.1.1.1'],
      network: ['host'],
      logDriver: 'local',
      logOpt: ['max-size=5m'],
    });
    expect(spec.container).toMatchObject({
      mounts: [{ type: 'volume', source: 'hass-config', target: '/config' }],
      capAdd: ['NET_ADMIN'],
      capDrop: ['MKNOD'],
      privileged: true,
      user: '1000',
      groupAdd: ['dialout'],
      workdir: '/config',
      entrypoint: ['python3', '-m', 'homeassistant'],
      labels: { team: 'home', tier: 'iot' },
      readOnly: true,
      ulimits: [{ name: 'nofile', soft: 1024, hard: 2048 }, { name: 'nproc', soft: 64, hard: 64 }],
      dns: ['1.1.1.1'],
      network: 'host',
      logConfig: { driver: 'local', options: { 'max-size': '5m' } },
    });
    const sysctl = buildRunSpec('x', [], { name: 'x', sysctl: ['net.ipv4.ip_forward=1'], hostname: 'box' }).container!;
    expect(sysctl).toMatchObject({ sysctls: { 'net.ipv4.ip_forward': '1' }, hostname: 'box', logConfig: null });
  });

  it.each([
    [{ ulimit: ['nofile'] }, 'invalid --ulimit "nofile": expected NAME=SOFT[:HARD], e.g. nofile=1024:2048'],
    [{ sysctl: ['net.ipv4.ip_forward'] }, 'invalid --sysctl "net.ipv4.ip_forward": expected KEY=VALUE'],
    [{ containerLabel: ['=x'] }, 'invalid --container-label "=x": expected KEY=VALUE'],
    [{ logOpt: ['max-size'] }, 'invalid --log-opt "max-size": expected KEY=VALUE'],
    [{ network: ['host', 'front'] }, '--network front conflicts with --network host: a container in the node\'s or no network joins no other'],
    [{ network: ['host'], publish: ['80:80'] }, '--publish conflicts with --network host: the container listens on the node\'s ports directly'],
    [{ entrypoint: 'sh -c \'x' }, 'invalid --entrypoint "sh -c \'x": unbalanced quotes'],
  ])('refuses %j in one line', (flags, message) => {
    expect(() => buildRunSpec('x', [], { name: 'x', ...flags })).toThrow(CliError);
    expect(() => buildRunSpec('x', [], { name: 'x', ...flags })).toThrow(message);
  });
});

describe('update: -add/-rm as docker service update', () => {
  const current = () =>
    validateServiceSpec({
      name: 'db',
      container: {
        image: 'pg',
        mounts: [{ type: 'volume', source: 'pgdata', target: '/var/lib/pg' }, { type: 'tmpfs', target: '/run' }],
        capAdd: ['NET_ADMIN'],
        capDrop: ['MKNOD'],
        groupAdd: ['dialout'],
        labels: { a: '1', b: '2' },
        sysctls: { 'net.core.somaxconn': '1024' },
        ulimits: [{ name: 'nofile', soft: 10, hard: 10 }],
        dns: ['1.1.1.1'],
        logConfig: { driver: 'json-file', options: { 'max-size': '20m' } },
      },
    });

  it('adds, replaces and removes list entries; changes only what the flags name', () => {
    const spec = buildUpdatedSpec(current(), {
      mountAdd: ['type=bind,source=/srv/pg,target=/var/lib/pg/'],
      mountRm: ['/run'],
      capAdd: ['MKNOD'],
      capDrop: ['net_admin'],
      groupRm: ['dialout'],
      groupAdd: ['video'],
      containerLabelAdd: ['b=3'],
      containerLabelRm: ['a'],
      sysctlRm: ['net.core.somaxconn'],
      ulimitAdd: ['nofile=20:40'],
      dnsAdd: ['9.9.9.9'],
      dnsRm: ['1.1.1.1'],
      logOpt: ['max-file=5'],
      readOnly: true,
      user: 'postgres',
    }).container!;
    expect(spec.mounts).toEqual([{ type: 'bind', source: '/srv/pg', target: '/var/lib/pg', readOnly: false, volumeDriver: '', volumeOptions: {}, tmpfsSizeBytes: 0 }]);
    expect(spec).toMatchObject({
      capAdd: ['MKNOD'],
      capDrop: ['NET_ADMIN'],
      groupAdd: ['video'],
      labels: { b: '3' },
      sysctls: {},
      ulimits: [{ name: 'nofile', soft: 20, hard: 40 }],
      dns: ['9.9.9.9'],
      logConfig: { driver: 'json-file', options: { 'max-size': '20m', 'max-file': '5' } },
      readOnly: true,
      user: 'postgres',
      privileged: false,
    });
    // '' goes back to the image's or the default; --no-read-only undoes --read-only.
    const reset = buildUpdatedSpec(buildUpdatedSpec(current(), { readOnly: true, workdir: '/x' }), { readOnly: false, workdir: '', logDriver: '' }).container!;
    expect(reset).toMatchObject({ readOnly: false, workdir: '', logConfig: null });
  });

  it('refuses a --mount-rm of a target the service does not mount, and bad values, in one line', () => {
    expect(() => buildUpdatedSpec(current(), { mountRm: ['/nope'] })).toThrow('--mount-rm /nope: the service has no mount at that target');
    expect(() => buildUpdatedSpec(current(), { capAdd: ['bad cap'] })).toThrow('invalid capability "bad cap": use a name such as NET_ADMIN, or ALL');
    expect(() => buildUpdatedSpec(current(), { mountAdd: ['type=bind,source=rel,target=/x'] })).toThrow('invalid bind source "rel": must be an absolute path');
  });

  it('inspect shows what is set, and the log driver containers get', () => {
    const spec = buildUpdatedSpec(current(), { privileged: true, network: 'host', mountAdd: ['type=tmpfs,target=/cache,tmpfs-size=1m'] });
    const text = renderService({ id: 'svc1', meta: { version: 2, createdAt: 0, updatedAt: 0 }, spec, previousSpec: null, updateStatus: null } as Service);
    expect(text).toMatch(/^Mount: +volume pgdata -> \/var\/lib\/pg$/m);
    expect(text).toMatch(/^Mount: +tmpfs \/cache \(1MiB\)$/m);
    expect(text).toMatch(/^Privileged: +yes$/m);
    expect(text).toMatch(/^Cap add: +NET_ADMIN$/m);
    expect(text).toMatch(/^Network: +host$/m);
    // json-file keeps the default file count under the size the spec set.
    expect(text).toMatch(/^Log driver: +json-file \(max-file=3, max-size=20m\)$/m);
    const plain = renderService({ id: 'svc2', meta: { version: 1, createdAt: 0, updatedAt: 0 }, spec: validateServiceSpec({ name: 'x', container: { image: 'x' } }), previousSpec: null, updateStatus: null } as Service);
    expect(plain).toMatch(/^Log driver: +json-file \(max-file=3, max-size=10m\), the default$/m);
  });
});
