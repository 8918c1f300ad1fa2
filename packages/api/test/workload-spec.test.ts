import { describe, expect, it } from 'vitest';
import { SpecError, validateServiceSpec } from '../src/service-spec';
import { DEFAULT_LOG_CONFIG, effectiveLogConfig } from '../src/log-config';
import { privilegedReason } from '../src/container-privileges';
import type { ServiceSpecInput } from '../src/types';

type ContainerInput = NonNullable<ServiceSpecInput['container']>;
const spec = (container: Partial<ContainerInput>, extra: ServiceSpecInput = {}) =>
  validateServiceSpec({ name: 'db', container: { image: 'postgres', ...container }, ...extra });

describe('mounts, privileges, identity and logs in a spec', () => {
  it('keeps them in canonical form: caps without CAP_ and upper case, bridge as "", paths without trailing /', () => {
    const container = spec({
      mounts: [
        { type: 'Bind', source: '/srv/data/', target: '/data/', readOnly: true },
        { type: 'volume', source: 'pgdata', target: '/var/lib/postgresql', volumeDriver: 'local', volumeOptions: { type: 'tmpfs' } },
        { type: 'tmpfs', target: '/run', tmpfsSizeBytes: 1 << 20 },
      ],
      capAdd: ['cap_net_admin', 'NET_ADMIN', 'SYS_RAWIO'],
      capDrop: ['CAP_MKNOD'],
      user: '1000:1000',
      groupAdd: ['dialout', '44'],
      workdir: '/app/',
      entrypoint: ['/bin/sh', '-c'],
      hostname: 'pi-db',
      labels: { team: 'home' },
      readOnly: true,
      sysctls: { 'net.ipv4.ip_forward': '1' },
      ulimits: [{ name: 'NOFILE', soft: 1024, hard: 2048 }, { name: 'memlock', soft: -1, hard: -1 }],
      dns: ['1.1.1.1', '2606:4700:4700::1111'],
      network: 'Bridge',
      logConfig: { driver: 'local', options: { 'max-size': '5m' } },
    }).container!;
    expect(container.mounts).toEqual([
      { type: 'bind', source: '/srv/data', target: '/data', readOnly: true, volumeDriver: '', volumeOptions: {}, tmpfsSizeBytes: 0 },
      { type: 'volume', source: 'pgdata', target: '/var/lib/postgresql', readOnly: false, volumeDriver: 'local', volumeOptions: { type: 'tmpfs' }, tmpfsSizeBytes: 0 },
      { type: 'tmpfs', source: '', target: '/run', readOnly: false, volumeDriver: '', volumeOptions: {}, tmpfsSizeBytes: 1 << 20 },
    ]);
    expect(container).toMatchObject({
      capAdd: ['NET_ADMIN', 'SYS_RAWIO'],
      capDrop: ['MKNOD'],
      workdir: '/app',
      network: '',
      ulimits: [{ name: 'nofile', soft: 1024, hard: 2048 }, { name: 'memlock', soft: -1, hard: -1 }],
      logConfig: { driver: 'local', options: { 'max-size': '5m' } },
    });
  });

  it.each<[string, Partial<ContainerInput>, string]>([
    ['an unknown mount type', { mounts: [{ type: 'nfs', target: '/x' }] }, 'invalid mount type "nfs": use bind, volume or tmpfs'],
    ['a relative bind source', { mounts: [{ type: 'bind', source: 'data', target: '/data' }] }, 'invalid bind source "data": must be an absolute path'],
    ['a relative target', { mounts: [{ type: 'tmpfs', target: 'tmp' }] }, 'invalid mount target "tmp": must be an absolute path'],
    ['the root as target', { mounts: [{ type: 'tmpfs', target: '/' }] }, 'invalid mount target "/": the container\'s root cannot be a mount'],
    ['one target twice', { mounts: [{ type: 'tmpfs', target: '/a' }, { type: 'volume', source: 'v', target: '/a/' }] }, 'mount target /a is used twice'],
    ['an unnamed volume', { mounts: [{ type: 'volume', target: '/a' }] }, 'invalid volume mount at /a: a source (the volume\'s name) is required'],
    ['a bad volume name', { mounts: [{ type: 'volume', source: '../etc', target: '/a' }] }, 'invalid volume name "../etc": use letters, digits, \'_\', \'.\' and \'-\''],
    ['volume options on a bind', { mounts: [{ type: 'bind', source: '/a', target: '/a', volumeDriver: 'nfs' }] }, 'invalid bind mount at /a: volume-driver and volume-opt are for volume mounts'],
    ['a tmpfs size on a volume', { mounts: [{ type: 'volume', source: 'v', target: '/a', tmpfsSizeBytes: 5 }] }, 'invalid volume mount at /a: tmpfs-size is for tmpfs mounts'],
    ['a tmpfs with a source', { mounts: [{ type: 'tmpfs', source: '/x', target: '/a' }] }, 'invalid tmpfs mount at /a: a tmpfs has no source'],
    ['a malformed capability', { capAdd: ['net admin'] }, 'invalid capability "net admin": use a name such as NET_ADMIN, or ALL'],
    ['a capability added and dropped', { capAdd: ['NET_RAW'], capDrop: ['CAP_NET_RAW'] }, 'capability NET_RAW is both added and dropped'],
    ['a bad user', { user: 'a:b:c' }, 'invalid user "a:b:c": use NAME or UID, optionally :GROUP or :GID'],
    ['a bad group', { groupAdd: ['wheel group'] }, 'invalid group "wheel group": use a group name or GID'],
    ['a relative workdir', { workdir: 'app' }, 'invalid workdir "app": must be an absolute path'],
    ['a bad hostname', { hostname: 'my_pi' }, 'invalid hostname "my_pi": use letters, digits, \'-\' and \'.\''],
    ['a hostname on the host network', { hostname: 'x', network: 'host' }, '--hostname conflicts with --network host: the container has no UTS namespace of its own to name'],
    ['a pisched label', { labels: { 'pisched.node': 'x' } }, 'invalid container label "pisched.node": the pisched. prefix is reserved for pisched'],
    ['a malformed sysctl', { sysctls: { ipforward: '1' } }, 'invalid sysctl "ipforward": expected a name such as net.ipv4.ip_forward'],
    ['a sysctl without value', { sysctls: { 'net.core.somaxconn': ' ' } }, 'invalid sysctl "net.core.somaxconn": a value is required'],
    ['an unknown ulimit', { ulimits: [{ name: 'files', soft: 1, hard: 1 }] }, 'invalid ulimit "files": use one of core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack'],
    ['soft above hard', { ulimits: [{ name: 'nofile', soft: 10, hard: 5 }] }, 'invalid ulimit nofile: the soft limit 10 is above the hard limit 5'],
    ['a ulimit twice', { ulimits: [{ name: 'nofile', soft: 1, hard: 1 }, { name: 'NOFILE', soft: 2, hard: 2 }] }, 'ulimit nofile is set twice'],
    ['a DNS name', { dns: ['dns.google'] }, 'invalid DNS server "dns.google": must be an IP address'],
    ['an overlay network', { network: 'mynet' }, 'invalid network "mynet": use bridge (the default), host or none'],
    ['a bad log size', { logConfig: { options: { 'max-size': 'big' } } }, 'invalid log option max-size "big": use a size such as 10m'],
    ['zero log files', { logConfig: { driver: 'json-file', options: { 'max-file': '0' } } }, 'invalid log option max-file "0": must be a whole number, 1 or more'],
  ])('refuses %s in one line', (_, container, message) => {
    expect(() => spec(container)).toThrow(SpecError);
    expect(() => spec(container)).toThrow(message);
    expect(message).not.toContain('\n');
  });

  it('refuses ports published by a container on the host network, which has no ports of its own to map', () => {
    expect(() => spec({ network: 'host' }, { ports: [{ publishedPort: 80, targetPort: 80 }] })).toThrow(
      '--publish conflicts with --network host: the container listens on the node\'s ports directly',
    );
    expect(spec({ network: 'HOST' }).container!.network).toBe('host');
    // Without a network the container still has its own UTS namespace to name.
    expect(spec({ network: 'none', hostname: 'offline' }).container).toMatchObject({ network: 'none', hostname: 'offline' });
  });

  it('logs with rotating json-file unless told otherwise; json-file keeps the caps not overridden', () => {
    expect(spec({}).container!.logConfig).toBeNull();
    expect(effectiveLogConfig(null)).toEqual(DEFAULT_LOG_CONFIG);
    expect(DEFAULT_LOG_CONFIG).toEqual({ driver: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } });
    const sized = spec({ logConfig: { options: { 'max-size': '50m' } } }).container!.logConfig;
    expect(effectiveLogConfig(sized)).toEqual({ driver: 'json-file', options: { 'max-size': '50m', 'max-file': '3' } });
    expect(effectiveLogConfig({ driver: 'journald', options: {} })).toEqual({ driver: 'journald', options: {} });
  });

  it('counts --privileged, --cap-add ALL and SYS_ADMIN as privileged, narrower capabilities not', () => {
    expect(privilegedReason(spec({ privileged: true }).container)).toBe('--privileged');
    expect(privilegedReason(spec({ capAdd: ['all'] }).container)).toBe('--cap-add ALL');
    expect(privilegedReason(spec({ capAdd: ['NET_ADMIN', 'CAP_SYS_ADMIN'] }).container)).toBe('--cap-add SYS_ADMIN');
    expect(privilegedReason(spec({ capAdd: ['NET_ADMIN', 'SYS_RAWIO'] }).container)).toBeUndefined();
  });
});
