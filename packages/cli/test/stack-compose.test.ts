import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadStack } from '../src/stack/load-stack';
import { interpolate } from '../src/stack/interpolate';
import { durationMs } from '../src/stack/compose-values';

const FIXTURES = path.join(__dirname, 'stack-fixtures');
const fixture = (name: string) => path.join(FIXTURES, name);
const env = { FROM_SHELL: 'shell-value', PATH: '/bin' };

/** A compose file written to a fresh directory (with an optional .env), loaded, and the directory removed. */
function loadText(text: string, dotenv?: string, environment: NodeJS.ProcessEnv = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-stack-unit-'));
  try {
    fs.writeFileSync(path.join(dir, 'compose.yml'), text);
    if (dotenv !== undefined) fs.writeFileSync(path.join(dir, '.env'), dotenv);
    return loadStack([path.join(dir, 'compose.yml')], 'app', environment);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function errorOf(text: string, environment: NodeJS.ProcessEnv = {}): string {
  try {
    loadText(text, undefined, environment);
  } catch (error) {
    return (error as Error).message.replace(/^.*compose\.yml/, 'compose.yml');
  }
  throw new Error('expected the file to be refused');
}

describe('interpolation', () => {
  const lookup = (name: string) => ({ SET: 'v', EMPTY: '' })[name];
  it.each([
    ['${SET}', 'v'], ['$SET/x', 'v/x'], ['${UNSET}', ''], ['${UNSET:-d}', 'd'], ['${EMPTY:-d}', 'd'], ['${EMPTY-d}', ''],
    ['${UNSET-d}', 'd'], ['${SET:+alt}', 'alt'], ['${UNSET:+alt}', ''], ['$$SET', '$SET'], ['${UNSET:-${SET}}', 'v'], ['cost $5', 'cost $5'],
  ])('%s → %s', (text, expected) => {
    expect(interpolate(text, lookup)).toBe(expected);
  });

  it('refuses a missing required variable with its message', () => {
    expect(() => interpolate('${UNSET:?give it}', lookup)).toThrow('required variable UNSET is missing a value: give it');
    expect(() => interpolate('${EMPTY:?}', lookup)).toThrow('required variable EMPTY is missing a value');
    expect(interpolate('${EMPTY?}', lookup)).toBe('');
  });

  it('reads Go durations', () => {
    expect([durationMs('1m30s'), durationMs('500ms'), durationMs('2h'), durationMs(10)]).toEqual([90_000, 500, 7_200_000, 10_000]);
    expect([durationMs('2000µs'), durationMs('3000us')]).toEqual([2, 3]);
    expect(() => durationMs('10 seconds')).toThrow('invalid duration');
  });
});

describe('Compose files into specs', () => {
  it('maps every supported key of the corpus file onto the spec', () => {
    const { specs, ignored } = loadStack([fixture('all-keys.yml')], 'iot', env);
    expect(ignored).toEqual([]);
    const [sensor, hass] = specs;
    expect(sensor.name).toBe('iot_sensor');
    expect(sensor.replicas).toBe(3);
    expect(sensor.container).toMatchObject({
      image: 'registry.local/sensor:1.0',
      command: ['python3', '-m', 'sensor', '--verbose', 'two words'],
      entrypoint: ['/sbin/tini', '--'],
      stopSignal: 'SIGINT',
      stopGracePeriodMs: 90_000,
      init: true,
      user: '1000:1000',
      workdir: '/app',
      hostname: 'sensor-box',
      labels: { team: 'iot', 'com.docker.stack.namespace': 'iot' },
      capAdd: ['NET_ADMIN'],
      capDrop: ['MKNOD'],
      groupAdd: ['dialout'],
      readOnly: true,
      sysctls: { 'net.ipv4.ip_forward': '1' },
      ulimits: [{ name: 'nofile', soft: 1024, hard: 2048 }, { name: 'nproc', soft: 512, hard: 512 }],
      dns: ['9.9.9.9'],
      network: '',
      logConfig: { driver: 'json-file', options: { 'max-size': '50m' } },
      healthcheck: { test: ['CMD-SHELL', 'curl -f http://localhost/ || exit 1'], intervalMs: 30_000, timeoutMs: 5_000, retries: 3, startPeriodMs: 60_000 },
      devices: [
        { pathOnHost: '/dev/i2c-1', pathInContainer: '/dev/i2c-1', permissions: 'rwm' },
        { pathOnHost: '/dev/video0', pathInContainer: '/dev/cam', permissions: 'rw' },
      ],
    });
    // env_file first, environment over it, a bare name from the shell, $$ a literal $.
    expect([...sensor.container!.env].sort()).toEqual(['FROM_FILE=yes', 'FROM_SHELL=shell-value', 'MODE=prod', 'PRICE=$5']);
    expect(sensor.container!.mounts.map((m) => [m.type, m.source, m.target, m.readOnly, m.tmpfsSizeBytes])).toEqual([
      ['volume', 'iot_data', '/var/lib/sensor', false, 0],
      ['bind', path.join(FIXTURES, 'conf'), '/etc/sensor', true, 0],
      ['tmpfs', '', '/scratch', false, 64 * 1024 * 1024],
      ['volume', 'shared', '/shared', false, 0],
      ['tmpfs', '', '/run', false, 0],
    ]);
    expect(sensor.ports).toEqual([
      { publishedPort: 8080, targetPort: 80, protocol: 'tcp', publishMode: 'ingress' },
      { publishedPort: 5353, targetPort: 53, protocol: 'udp', publishMode: 'ingress' },
      { publishedPort: 8443, targetPort: 443, protocol: 'tcp', publishMode: 'host' },
    ]);
    expect(sensor.placement).toEqual({
      constraints: ['node.labels.zone==a'], spread: ['node.labels.rack'], maxPerNode: 2, strategy: '', platforms: [{ os: 'linux', architecture: 'arm64' }],
    });
    expect(sensor.resources).toEqual({ cpus: 0.5, memoryBytes: 256 * 1024 * 1024, generic: { camera: 1 } });
    expect(sensor.noLimits).toBe(false);
    expect(sensor.restart).toEqual({ condition: 'on-failure', delayMs: 10_000, delaySet: true, maxAttempts: 3, windowMs: 120_000 });
    expect(sensor.updateConfig).toEqual({ parallelism: 2, delayMs: 5_000, failureAction: 'rollback', monitorMs: 10_000, maxFailureRatio: 0.25, order: 'start-first' });
    expect(sensor.rollbackConfig).toMatchObject({ parallelism: 0, order: 'stop-first' });
    // Secrets: the target defaults to the file's key, not the scoped name; a relative target lands under /run/secrets;
    // a plain 0400 is octal (256) as Compose reads it, a quoted "0440" too; unset modes get the 0444 default.
    expect(sensor.container!.secrets).toEqual([
      { source: 'iot_token', target: '/run/secrets/token', uid: 0, gid: 0, mode: 0o444 },
      { source: 'mqtt_password', target: '/run/secrets/mqtt.pw', uid: 1000, gid: 1000, mode: 0o400 },
    ]);
    expect(sensor.container!.configs).toEqual([{ source: 'iot_sensor_conf', target: '/etc/sensor.ini', uid: 0, gid: 0, mode: 0o440 }]);
    expect(hass).toMatchObject({ name: 'iot_hass', mode: 'GLOBAL', replicas: 0, noLimits: true, resources: { cpus: 0, memoryBytes: 128 * 1024 * 1024 } });
    expect(hass.container!.network).toBe('host');
  });

  it('reads the top-level secrets and configs the services use: files beside the compose file, content, external', () => {
    const { fileObjects } = loadStack([fixture('all-keys.yml')], 'iot', env);
    expect(fileObjects.map((o) => [o.kind, o.key, o.name, o.external, o.data?.toString()])).toEqual([
      ['secret', 'token', 'iot_token', false, 'hunter2\n'],
      ['secret', 'mqtt_password', 'mqtt_password', true, undefined],
      ['config', 'sensor_conf', 'iot_sensor_conf', false, '[sensor]\nrate = 10\n'],
    ]);
  });

  it('reads the older external: {name} spelling', () => {
    const text = 'services:\n  web:\n    image: x\n    configs: [c]\nconfigs:\n  c:\n    external: {name: shared_conf}\n';
    expect(loadText(text).fileObjects).toEqual([{ kind: 'config', key: 'c', name: 'shared_conf', external: true }]);
  });

  it.each([
    ['0400', 0o400], ['400', 400], ['0o400', 0o400], ['"0400"', 0o400], ['"400"', 0o400], ['"${MODE}"', 0o600],
  ])('reads secret mode %s as %i', (written, expected) => {
    const text = `services:\n  web:\n    image: x\n    secrets:\n      - {source: s, mode: ${written}}\nsecrets:\n  s: {external: true}\n`;
    expect(loadText(text, undefined, { MODE: '0600' }).specs[0].container!.secrets[0].mode).toBe(expected);
  });

  it('merges -c files in order: maps key by key, environment lists by name', () => {
    const { specs } = loadStack([fixture('all-keys.yml'), fixture('override.yml')], 'iot', env);
    expect(specs[0].container!.image).toBe('registry.local/sensor:2.0');
    expect(specs[0].replicas).toBe(5);
    expect(specs[0].container!.env).toContain('EXTRA=1');
    expect(specs[0].container!.env).toContain('MODE=prod');
    expect(specs[0].updateConfig!.parallelism).toBe(2);
  });

  it('reads a real public file (awesome-compose wordpress-mysql), warning once about what it ignores', () => {
    const { specs, ignored } = loadStack([fixture('awesome-compose-wordpress-mysql/compose.yaml')], 'wp', {});
    expect(specs.map((spec) => [spec.name, spec.container!.image, spec.ports.map((p) => `${p.publishedPort}:${p.targetPort}`)])).toEqual([
      ['wp_db', 'mariadb:10.6.4-focal', []],
      ['wp_wordpress', 'wordpress:latest', ['80:80']],
      ['wp_phpmyadmin', 'wordpress:latest', ['8080:80']],
    ]);
    expect(specs[0].container!.command).toEqual(['--default-authentication-plugin=mysql_native_password']);
    expect(specs[0].container!.mounts[0]).toMatchObject({ type: 'volume', source: 'wp_db_data', target: '/var/lib/mysql' });
    expect(ignored).toEqual(['restart (db, wordpress, phpmyadmin)', 'depends_on (phpmyadmin)']);
    // One network for the whole stack, and db's expose ports for the others on it.
    expect(specs.map((spec) => spec.networks)).toEqual([['wp_default'], ['wp_default'], ['wp_default']]);
    expect(specs[0].expose.map((p) => `${p.targetPort}/${p.protocol}`)).toEqual(['3306/tcp', '33060/tcp']);
  });

  it('puts services on the networks they list (STACK_KEY, or an external one by its name), none with a network_mode', () => {
    const text = 'services:\n  web:\n    image: x\n    networks: [front, shared]\n    deploy:\n      endpoint_mode: dnsrr\n  api:\n    image: x\n  hass:\n    image: x\n    network_mode: host\nnetworks:\n  front:\n  shared:\n    external: true\n    name: lan\n';
    const { specs, networks } = loadText(text);
    expect(specs.map((spec) => [spec.name, spec.networks, spec.endpointMode])).toEqual([
      ['app_web', ['app_front', 'lan'], 'dnsrr'],
      ['app_api', ['app_default'], 'vip'],
      ['app_hass', [], 'vip'],
    ]);
    expect(networks).toEqual(['app_default', 'app_front']);
  });

  it('takes a Swarm file\'s overlay networks as they are, and warns about attachable and labels', () => {
    const text = 'services:\n  web:\n    image: x\n    networks: [front]\nnetworks:\n  front:\n    driver: overlay\n    attachable: true\n    labels: [team=web]\n';
    const { specs, networks, ignored } = loadText(text);
    expect(specs[0]!.networks).toEqual(['app_front']);
    expect(networks).toEqual(['app_front']);
    expect(ignored).toEqual(['networks.front.attachable', 'networks.front.labels']);
  });

  it('reads variables from .env beside the file, the environment winning', () => {
    const text = 'services:\n  web:\n    image: "nginx:${TAG}"\n    deploy:\n      replicas: ${N}\n';
    const { specs } = loadText(text, 'TAG=from-dotenv\nN=4\n', { TAG: 'from-shell' });
    expect(specs[0].container!.image).toBe('nginx:from-shell');
    expect(specs[0].replicas).toBe(4);
  });
});

describe('bad files get one line naming file, line, service and key', () => {
  it.each([
    ['a misspelt key', 'services:\n  web:\n    image: x\n    deploy:\n      replica: 3\n', 'compose.yml:5: service "web": deploy.replica: unknown key (not in the Compose Specification)'],
    ['a wrong type', 'services:\n  web:\n    image: x\n    privileged: [yes]\n', 'compose.yml:4: service "web": privileged: must be boolean,string'],
    ['a missing required variable', 'services:\n  web:\n    image: ${IMG:?set IMG}\n', 'compose.yml:3: service "web": image: required variable IMG is missing a value: set IMG'],
    ['invalid YAML', 'services:\n  web:\n   image: x\n  - y\n', /^compose\.yml:\d+: invalid YAML: /],
    ['a service secret not defined at the top level', 'services:\n  web:\n    image: x\n    secrets: [s]\n', 'compose.yml:4: service "web": secrets[0]: secret s is not defined under the top-level secrets:'],
    ['a secret file that cannot be read', 'services:\n  web:\n    image: x\n    secrets: [s]\nsecrets:\n  s: {file: ./missing.txt}\n', 'compose.yml:6: secrets.s.file: cannot read ./missing.txt: no such file'],
    ['a secret from the environment', 'services:\n  web:\n    image: x\nsecrets:\n  s: {environment: PW}\n', 'compose.yml:5: secrets.s.environment: environment sources are not supported: put the value in a file and use file:'],
    ['a secret with content', 'services:\n  web:\n    image: x\nsecrets:\n  s: {content: pw}\n', 'compose.yml:5: secrets.s.content: unknown key (not in the Compose Specification)'],
    ['a created secret with a name', 'services:\n  web:\n    image: x\nsecrets:\n  s: {file: ./compose.yml, name: shared}\n', /^compose\.yml:5: secrets\.s\.name: name is only supported with external: true/],
    ['a config with a driver', 'services:\n  web:\n    image: x\nconfigs:\n  c: {file: ./compose.yml, template_driver: golang}\n', 'compose.yml:5: configs.c.template_driver: template_driver is not supported: configs are stored by the scheduler'],
    ['an empty config', 'services:\n  web:\n    image: x\nconfigs:\n  c: {content: ""}\n', 'compose.yml:5: configs.c.content: a config needs a value: the data given is empty'],
    ['a bad secret mode', 'services:\n  web:\n    image: x\n    secrets:\n      - {source: s, mode: "0999"}\nsecrets:\n  s: {external: true}\n', 'compose.yml:5: service "web": secrets[0].mode: invalid mode "0999": use octal permission bits such as 0400'],
    ['a bad secret uid', 'services:\n  web:\n    image: x\n    secrets:\n      - {source: s, uid: root}\nsecrets:\n  s: {external: true}\n', 'compose.yml:5: service "web": secrets[0].uid: invalid uid "root": must be a whole number'],
    ['a config target used twice', 'services:\n  web:\n    image: x\n    configs:\n      - {source: c, target: /a}\n      - {source: d, target: /a}\nconfigs:\n  c: {content: x}\n  d: {content: y}\n', /^compose\.yml:2: service "web": config target \/a is used twice/],
    ['an external name that cannot be a secret', 'services:\n  web:\n    image: x\nsecrets:\n  s: {external: true, name: "bad name"}\n', /^compose\.yml:5: secrets\.s\.name: invalid secret name "bad name"/],
    ['an undeclared network', 'services:\n  web:\n    image: x\n    networks: [front]\n', 'compose.yml:4: service "web": networks.front: network front is not declared under the top-level networks'],
    ['a network driver other than overlay', 'services:\n  web:\n    image: x\nnetworks:\n  front:\n    driver: macvlan\n', 'compose.yml:6: networks.front.driver: driver macvlan is not supported: a pisched network spans every node, as Swarm\'s overlay (use driver: overlay or none)'],
    ['an internal network', 'services:\n  web:\n    image: x\nnetworks:\n  front:\n    driver: overlay\n    internal: true\n', 'compose.yml:7: networks.front.internal: this network option is not supported (pisched networks have no driver options, IPAM or internal mode)'],
    ['a bad endpoint_mode', 'services:\n  web:\n    image: x\n    deploy:\n      endpoint_mode: rr\n', /^compose\.yml:\d+: service "web": invalid endpoint mode "rr": use vip or dnsrr$/],
    ['an unknown port mode', 'services:\n  web:\n    image: x\n    ports:\n      - {target: 80, published: 8080, mode: bridge}\n', 'compose.yml:5: service "web": ports[0].mode: unknown mode bridge: use ingress or host'],
    ['a port with no published side', 'services:\n  web:\n    image: x\n    ports: ["80"]\n', /^compose\.yml:4: service "web": ports\[0\]: "80" publishes no port: write PUBLISHED:TARGET/],
    ['an anonymous volume', 'services:\n  web:\n    image: x\n    volumes: [/data]\n', /^compose\.yml:4: service "web": volumes\[0\]: "\/data" is an anonymous volume/],
    ['a bind mount without a source', 'services:\n  web:\n    image: x\n    volumes:\n      - {type: bind, target: /data}\n', 'compose.yml:5: service "web": volumes[0]: a bind mount needs a source (a path on the node)'],
    ['an undeclared volume', 'services:\n  web:\n    image: x\n    volumes: ["db:/data"]\n', 'compose.yml:4: service "web": volumes[0]: volume "db" is not declared under the top-level volumes'],
    ['build without image', 'services:\n  web:\n    build: .\n', /^compose\.yml:2: service "web": an image is required: pisched does not build images/],
    ['profiles', 'services:\n  web:\n    image: x\n    profiles: [debug]\n', /^compose\.yml:4: service "web": profiles: profiles select which services run/],
    ['a spec the scheduler would refuse', 'services:\n  web:\n    image: x\n    deploy:\n      placement:\n        constraints: [node.role == manager]\n', /^compose\.yml:2: service "web": invalid constraint "node.role == manager": unknown field "node.role"/],
    ['a bad duration', 'services:\n  web:\n    image: x\n    stop_grace_period: 10 seconds\n', 'compose.yml:4: service "web": stop_grace_period: invalid duration "10 seconds": use e.g. 10s, 1m30s or 500ms'],
    ['a service name that cannot be a service', 'services:\n  web.1:\n    image: x\n', /^compose\.yml:2: service "web.1": invalid service name "app_web.1"/],
    ['a replica count for a global service', 'services:\n  web:\n    image: x\n    deploy:\n      mode: global\n      replicas: 3\n', 'compose.yml:6: service "web": deploy.replicas: replicas cannot be used with mode global: a global service runs one task on every eligible node'],
    ['no services', 'version: "3"\n', 'compose.yml:1: no services: a stack needs at least one under services'],
  ])('%s', (_what, text, expected) => {
    const message = errorOf(text);
    expect(message.split('\n')).toHaveLength(1);
    if (typeof expected === 'string') expect(message).toBe(expected);
    else expect(message).toMatch(expected);
  });

  it('refuses a stack name that cannot prefix service names', () => {
    expect(() => loadStack([fixture('all-keys.yml')], 'bad name', env)).toThrow('invalid stack name "bad name"');
  });
});
