import { describe, expect, it } from 'vitest';
import { buildContainerSpec, containerName, exposedPortsOf, ingressBindings } from '../src/container-spec';
import { makeTask } from './fixtures';

describe('buildContainerSpec', () => {
  const task = makeTask({
    id: 'abcdef1234567890xyz',
    serviceName: 'api',
    serviceId: 'svc-9',
    slot: 3,
    spec: {
      name: 'api',
      mode: 'REPLICATED',
      replicas: 3,
      container: { image: 'pisched-test/busybox:latest', command: ['sleep', '100'], env: ['A=1', 'B=two'] },
      resources: { cpus: 0.5, memoryBytes: 128 * 1024 * 1024 },
      ports: [
        { publishedPort: 8080, targetPort: 80, protocol: 'tcp', publishMode: 'host' },
        { publishedPort: 5353, targetPort: 53, protocol: 'udp', publishMode: 'ingress' },
      ],
    } as never,
  });

  it('passes stop signal, grace (whole seconds), init and the health check (nanoseconds) to Docker', () => {
    const withOptions = makeTask({
      spec: {
        name: 'api',
        container: {
          image: 'x', command: [], env: [], stopSignal: 'SIGINT', stopGracePeriodMs: 2500, init: true,
          healthcheck: { test: ['CMD-SHELL', 'test -f /ok'], intervalMs: 1000, timeoutMs: 500, retries: 2, startPeriodMs: 0 },
        },
        ports: [],
      } as never,
    });
    const options = buildContainerSpec(withOptions, 'pi-2');
    expect(options.StopSignal).toBe('SIGINT');
    expect(options.StopTimeout).toBe(3);
    expect(options.HostConfig!.Init).toBe(true);
    expect(options.Healthcheck).toEqual({ Test: ['CMD-SHELL', 'test -f /ok'], Interval: 1e9, Timeout: 5e8, Retries: 2, StartPeriod: 0 });
    // Without them the image's settings apply: nothing is sent.
    const plain = buildContainerSpec(task, 'pi-2');
    expect([plain.StopSignal, plain.StopTimeout, plain.HostConfig!.Init, plain.Healthcheck]).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('reports where the mesh reaches the ingress ports once the engine gave each a host port', () => {
    expect(ingressBindings(task, { '80/tcp': 8080, '53/udp': 32768 })).toEqual([{ publishedPort: 32768, targetPort: 53, protocol: 'udp', publishMode: 'ingress' }]);
    expect(ingressBindings(task, { '80/tcp': 8080 })).toEqual([]);
  });

  it('publishes the ports its image exposes on the node address for the VIP, and reports them beside the spec\'s', () => {
    const networking = { engineNetworks: ['pisched-front'], dns: '198.18.0.1', imagePorts: exposedPortsOf({ '6379/tcp': {}, '53/udp': {}, '80/tcp': {}, 'junk': {} }) };
    expect(networking.imagePorts.map((port) => `${port.targetPort}/${port.protocol}`)).toEqual(['6379/tcp', '53/udp', '80/tcp']);
    const options = buildContainerSpec(task, 'pi-2', '10.0.0.7', [], networking);
    expect(options.HostConfig!.PortBindings).toEqual({
      '80/tcp': [{ HostPort: '8080' }], // host mode, as the spec says; not published again
      '53/udp': [{ HostIp: '10.0.0.7', HostPort: '' }], // the spec's ingress port, once
      '6379/tcp': [{ HostIp: '10.0.0.7', HostPort: '' }],
    });
    // The host-mode port is not the mesh's; the image's port is reported with the spec's.
    expect(ingressBindings(task, { '80/tcp': 8080, '53/udp': 32768, '6379/tcp': 32769 })).toEqual([
      { publishedPort: 32768, targetPort: 53, protocol: 'udp', publishMode: 'ingress' },
      { publishedPort: 32769, targetPort: 6379, protocol: 'tcp', publishMode: 'ingress' },
    ]);
  });

  it('names the container <service>.<slot>.<12 chars of the task id>', () => {
    expect(containerName(task)).toBe('api.3.abcdef123456');
  });

  it('labels it with service, service id, task, slot and node', () => {
    expect(buildContainerSpec(task, 'pi-2').Labels).toEqual({
      'pisched.service': 'api',
      'pisched.service-id': 'svc-9',
      'pisched.task': 'abcdef1234567890xyz',
      'pisched.slot': '3',
      'pisched.node': 'pi-2',
    });
  });

  it('carries image, command, env, limits, ports and no restart policy', () => {
    const spec = buildContainerSpec(task, 'pi-2', '10.0.0.5');
    expect(spec).toMatchObject({
      name: 'api.3.abcdef123456',
      Image: 'pisched-test/busybox:latest',
      Cmd: ['sleep', '100'],
      Env: ['A=1', 'B=two'],
      ExposedPorts: { '80/tcp': {}, '53/udp': {} },
      HostConfig: {
        // Host mode: the node's own port. Ingress: a port the engine picks on the node's address, for the mesh.
        PortBindings: { '80/tcp': [{ HostPort: '8080' }], '53/udp': [{ HostIp: '10.0.0.5', HostPort: '' }] },
        Memory: 128 * 1024 * 1024,
        NanoCpus: 500_000_000,
        RestartPolicy: { Name: 'no' },
      },
    });
  });

  it('keeps the image\'s CMD when the command is empty and sets no zero limits', () => {
    const spec = buildContainerSpec(makeTask(), 'n');
    expect(spec.Cmd).toBeUndefined();
    expect(spec.HostConfig?.Memory).toBeUndefined();
    expect(spec.HostConfig?.NanoCpus).toBeUndefined();
    expect(spec.ExposedPorts).toEqual({});
  });

  it('rounds fractional CPUs to whole nano-CPUs', () => {
    const t = makeTask();
    t.spec!.resources = { cpus: 1 / 3, memoryBytes: 0, generic: {} };
    expect(buildContainerSpec(t, 'n').HostConfig?.NanoCpus).toBe(333_333_333);
  });

  it('applies no limits when the spec asks for reservations only', () => {
    const t = makeTask();
    t.spec!.resources = { cpus: 1, memoryBytes: 64 * 1024 * 1024, generic: {} };
    (t.spec as unknown as { noLimits: boolean }).noLimits = true;
    const spec = buildContainerSpec(t, 'n');
    expect(spec.HostConfig?.Memory).toBeUndefined();
    expect(spec.HostConfig?.NanoCpus).toBeUndefined();
  });

  it('refuses a task without a container spec', () => {
    expect(() => buildContainerSpec(makeTask({ spec: null }), 'n')).toThrow(/no container spec/);
  });
});
