import { describe, expect, it } from 'vitest';
import { validateServiceSpec, type Node, type ServiceSpec, type Task } from '@pisched/api';
import { assignIngressPorts, nodeUpdateFromDocker, serviceSpecFromDocker, serviceSpecToDocker, taskToDocker, type ReferenceIds } from '../src/docker-api/swarm-translation';
import { DockerApiError, type DockerServiceSpec } from '../src/docker-api/swarm-types';
import { logLine } from '../src/docker-api/docker-log-stream';
import { parseFilters } from '../src/docker-api/docker-filters';

const ids: ReferenceIds = { secret: (name) => `sid-${name}`, config: (name) => `cid-${name}`, network: (name) => `nid-${name}` };

/** What `docker service create --name web --replicas 2 -p 8080:80 IMAGE` sends (docker CLI 28, API 1.41). */
function cliCreate(extra: Partial<DockerServiceSpec> = {}): DockerServiceSpec {
  return {
    Name: 'web',
    Labels: {},
    TaskTemplate: {
      ContainerSpec: { Image: 'busybox:latest', Args: ['httpd', '-f'], Init: false, DNSConfig: {}, Isolation: 'default' },
      Resources: { Limits: {}, Reservations: {} },
      Placement: {},
      ForceUpdate: 0,
    },
    Mode: { Replicated: { Replicas: 2 } },
    EndpointSpec: { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080 }] },
    ...extra,
  };
}

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DockerApiError);
    expect((error as DockerApiError).status).toBe(400);
    return (error as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('Docker ServiceSpec to pisched', () => {
  it('reads what the docker CLI sends for a plain create, with Swarm\'s defaults', () => {
    const spec = validateServiceSpec(serviceSpecFromDocker(cliCreate()));
    expect(spec).toMatchObject({ name: 'web', mode: 'REPLICATED', replicas: 2, noLimits: false });
    expect(spec.container!.command).toEqual(['httpd', '-f']);
    expect(spec.container!.entrypoint).toEqual([]);
    // No PublishMode is Swarm's ingress: the routing mesh.
    expect(spec.ports).toEqual([{ publishedPort: 8080, targetPort: 80, protocol: 'tcp', publishMode: 'ingress' }]);
    expect(spec.updateConfig).toEqual({ parallelism: 1, delayMs: 0, failureAction: 'pause', monitorMs: 5000, maxFailureRatio: 0, order: 'stop-first' });
  });

  it('honours Docker\'s meaning where pisched\'s differs: a given update config with Monitor 0 monitors 5 s', () => {
    const spec = validateServiceSpec(serviceSpecFromDocker(cliCreate({ UpdateConfig: { Parallelism: 2, Monitor: 0 } })));
    expect(spec.updateConfig).toMatchObject({ parallelism: 2, monitorMs: 5000, failureAction: 'pause', order: 'stop-first' });
  });

  it('reads a reservation alone as reserving without limiting, and a limit alone as both', () => {
    const reserved = serviceSpecFromDocker(cliCreate({ TaskTemplate: { ContainerSpec: { Image: 'x' }, Resources: { Reservations: { MemoryBytes: 64 << 20, NanoCPUs: 5e8 } } } }));
    expect(reserved).toMatchObject({ noLimits: true, resources: { cpus: 0.5, memoryBytes: 64 << 20 } });
    const limited = serviceSpecFromDocker(cliCreate({ TaskTemplate: { ContainerSpec: { Image: 'x' }, Resources: { Limits: { MemoryBytes: 64 << 20 } } } }));
    expect(limited).toMatchObject({ noLimits: false, resources: { memoryBytes: 64 << 20 } });
    expect(refusal(() => serviceSpecFromDocker(cliCreate({ TaskTemplate: { ContainerSpec: { Image: 'x' }, Resources: { Limits: { MemoryBytes: 1 << 30 }, Reservations: { MemoryBytes: 64 << 20 } } } })))).toMatch(
      /Spec\.TaskTemplate\.Resources\.Limits must equal/,
    );
  });

  it('refuses what pisched cannot honour, naming the field', () => {
    const container = (extra: Record<string, unknown>) => cliCreate({ TaskTemplate: { ContainerSpec: { Image: 'x', ...extra } } });
    expect(refusal(() => serviceSpecFromDocker(cliCreate({ Mode: { GlobalJob: {} } })))).toMatch(/^Spec\.Mode\.GlobalJob is not supported/);
    expect(refusal(() => serviceSpecFromDocker(container({ TTY: true })))).toMatch(/^Spec\.TaskTemplate\.ContainerSpec\.TTY is not supported/);
    expect(refusal(() => serviceSpecFromDocker(container({ Hosts: ['1.2.3.4 db'] })))).toMatch(/ContainerSpec\.Hosts is not supported/);
    expect(refusal(() => serviceSpecFromDocker(container({ DNSConfig: { Search: ['lan'] } })))).toMatch(/ContainerSpec\.DNSConfig\.Search is not supported/);
    expect(refusal(() => serviceSpecFromDocker(container({ SomethingNew: 1 })))).toMatch(/ContainerSpec\.SomethingNew is not supported/);
    expect(refusal(() => serviceSpecFromDocker(cliCreate({ EndpointSpec: { Mode: 'ingress' } })))).toMatch(/^Spec\.EndpointSpec\.Mode "ingress"/);
    expect(refusal(() => serviceSpecFromDocker(cliCreate({ EndpointSpec: { Ports: [{ TargetPort: 80, PublishMode: 'host' }] } })))).toMatch(/Ports\[0\]\.PublishedPort is required in host mode/);
    expect(refusal(() => serviceSpecFromDocker(cliCreate({ Mode: { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 3 } } })))).toMatch(/ReplicatedJob\.MaxConcurrent must equal/);
  });

  it('keeps what Docker cannot say from the stored spec when Docker sends a spec back', () => {
    const stored = validateServiceSpec({
      name: 'cam',
      replicas: 1,
      priority: 7,
      container: { image: 'motion', privileged: true, devices: [{ pathOnHost: '/dev/video0' }], secrets: [{ source: 'tok', target: '/etc/tok', uid: 1000, mode: 0o400 }] },
      resources: { cpus: 0.5, memoryBytes: 64 << 20, generic: { camera: 1 } },
      placement: { strategy: 'spread', spread: ['node.labels.rack'], constraints: ['node.labels.zone==a'], maxPerNode: 1 },
      restart: { condition: 'on-failure', delayMs: 0, delaySet: true, maxAttempts: 3 },
      ports: [{ publishedPort: 9000, targetPort: 90, publishMode: 'host' }],
      updateConfig: { parallelism: 2, monitorMs: 1000, order: 'start-first' },
      labels: { 'com.example.team': 'vision' },
    });
    const docker = serviceSpecToDocker(stored, ids) as DockerServiceSpec;
    const back = validateServiceSpec(serviceSpecFromDocker(JSON.parse(JSON.stringify(docker)), stored));
    expect(back).toEqual(stored);
    // The references carry the ids the docker CLI matches on.
    expect(JSON.stringify(docker)).toContain('"SecretID":"sid-tok"');
  });
});

describe('pisched objects to Docker', () => {
  const spec: ServiceSpec = validateServiceSpec({ name: 'web', replicas: 1, container: { image: 'x' }, ports: [{ publishedPort: 8080, targetPort: 80 }] });

  it('writes task states and desired states in Docker\'s lower case, and no port status for ingress ports', () => {
    const task = taskToDocker(
      {
        id: 't1', meta: { version: 3, createdAt: 1, updatedAt: 2 }, serviceId: 's1', serviceName: 'web', slot: 1, nodeId: 'n1', desiredState: 'RUNNING',
        status: { state: 'RUNNING', timestamp: 5, message: 'started', err: '', exitCode: 0, containerId: 'c1', health: '', ingressPorts: [{ publishedPort: 32768, targetPort: 80, protocol: 'tcp', publishMode: 'ingress' }] },
        spec, specVersion: 3, restarts: 0, startedAt: 5, shutdownReason: '',
      } as unknown as Task,
      ids,
    );
    expect(task).toMatchObject({ ID: 't1', Slot: 1, NodeID: 'n1', DesiredState: 'running', Status: { State: 'running', ContainerStatus: { ContainerID: 'c1' }, PortStatus: {} } });
  });

  it('turns a whole NodeSpec into the changes pisched applies', () => {
    const node = { id: 'n1', labels: { keep: '1', gone: '2' } } as unknown as Node;
    expect(nodeUpdateFromDocker({ Labels: { keep: '1', added: '3' }, Role: 'worker', Availability: 'drain' }, node)).toEqual({ availability: 'drain', labelAdd: { added: '3' }, labelRm: ['gone'] });
    expect(refusal(() => nodeUpdateFromDocker({ Role: 'manager', Availability: 'active' }, node))).toMatch(/^NodeSpec\.Role "manager"/);
  });
});

describe('Docker API plumbing', () => {
  it('picks free ingress ports from Swarm\'s range for ports published as 0', () => {
    const ports = [{ targetPort: 80, publishedPort: 0 }, { targetPort: 81, publishedPort: 30001 }];
    assignIngressPorts(ports, [{ spec: { ports: [{ publishedPort: 30000, targetPort: 1, protocol: 'tcp', publishMode: 'ingress' }] } }]);
    expect(ports[0].publishedPort).toBe(30002);
  });

  it('frames a log line with the details the docker CLI needs, on the right stream', () => {
    const frame = logLine({ taskId: 't1', taskName: 'web.1', nodeId: 'n1', stream: 'stderr', timestamp: '2026-01-01T00:00:00.000000000Z', line: 'oops' }, { serviceId: 's1', timestamps: true, details: true });
    expect(frame[0]).toBe(2);
    expect(frame.readUInt32BE(4)).toBe(frame.length - 8);
    expect(frame.subarray(8).toString()).toBe('2026-01-01T00:00:00.000000000Z com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t1 oops\n');
  });

  it('reads both spellings of filters and refuses an unknown one', () => {
    expect(parseFilters('{"name":["web"],"id":{"abc":true}}', ['name', 'id'])).toEqual(new Map([['name', ['web']], ['id', ['abc']]]));
    expect(refusal(() => parseFilters('{"colour":["red"]}', ['name']))).toBe("invalid filter 'colour'");
  });
});
