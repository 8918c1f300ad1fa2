import type Docker from 'dockerode';
import type { PortConfig } from '@pisched/api';
import type { DockerDriver } from '../src/docker-driver';
import type { ContainerPhase, ObservedContainer } from '../src/observed';
import type { LocalImage } from '../src/container-driver';

interface FakeContainer {
  id: string;
  name: string;
  labels: Record<string, string>;
  phase: ContainerPhase;
  exitCode: number;
  created: number;
}

function engineError(statusCode: number, message: string): Error {
  return Object.assign(new Error(`(HTTP code ${statusCode}) - ${message}`), { statusCode, json: { message } });
}

/**
 * An in-memory engine with the DockerDriver's surface, for worker tests that
 * must control timing and failures. Real-engine behaviour is covered by
 * test/agent-docker.test.ts at the top of the repository.
 */
export class FakeEngine {
  containers = new Map<string, FakeContainer>();
  images = new Set(['pisched-test/busybox:latest']);
  /** Images whose config names a HEALTHCHECK. */
  imagesWithHealthCheck = new Set<string>();
  /** Ports an image's EXPOSE names, by image. */
  imageExposed = new Map<string, PortConfig[]>();
  /** The host ports a started container's published ports got ("80/tcp" → 32768), by container id. */
  boundPorts = new Map<string, Record<string, number>>();
  calls: string[] = [];
  /** Makes the next calls of a method fail; 'unreachable' mimics a dead socket. */
  failures = new Map<string, Error>();
  /** Milliseconds each create takes, to widen race windows. */
  createDelayMs = 0;
  /** While set, lists wait here to answer (with what the engine held when asked) until released. */
  private heldLists: Array<() => void> | undefined;
  private seq = 0;

  get driver(): DockerDriver {
    return this as unknown as DockerDriver;
  }

  private check(method: string): void {
    this.calls.push(method);
    const failure = this.failures.get(method);
    if (failure) throw failure;
  }

  failWith(method: string, statusCode: number, message: string): void {
    this.failures.set(method, engineError(statusCode, message));
  }

  failUnreachable(method: string): void {
    this.failures.set(method, Object.assign(new Error('connect ECONNREFUSED /var/run/docker.sock'), { code: 'ECONNREFUSED' }));
  }

  add(labels: Record<string, string>, phase: ContainerPhase = 'running', exitCode = 0): string {
    const id = `c${++this.seq}`;
    this.containers.set(id, { id, name: id, labels, phase, exitCode, created: this.seq });
    return id;
  }

  async listContainers(nodeId: string, taskIds?: readonly string[]): Promise<ObservedContainer[]> {
    this.check('listContainers');
    // What the engine holds when the list is asked for, answered once lists are not held.
    const listed = [...this.containers.values()]
      .filter((c) => c.labels['pisched.node'] === nodeId)
      .filter((c) => taskIds === undefined || taskIds.includes(c.labels['pisched.task'] ?? ''))
      .map((c) => ({
        id: c.id,
        name: c.name,
        taskId: c.labels['pisched.task'] ?? '',
        phase: c.phase,
        created: c.created,
        ...(c.phase === 'exited' ? { exitCode: c.exitCode } : {}),
      }));
    if (this.heldLists) await new Promise<void>((answer) => this.heldLists!.push(answer));
    return listed;
  }

  /** Lists from now on answer only when released. */
  holdLists(): void {
    this.heldLists ??= [];
  }

  /** Answers the lists held so far; later ones are held too unless `andStop`. */
  releaseLists(andStop: boolean): void {
    const waiting = this.heldLists ?? [];
    this.heldLists = andStop ? undefined : [];
    for (const answer of waiting) answer();
  }

  async glance(nodeId: string): Promise<ObservedContainer[]> {
    this.check('glance');
    return [...this.containers.values()]
      .filter((c) => c.labels['pisched.node'] === nodeId)
      .map((c) => ({ id: c.id, name: c.name, taskId: c.labels['pisched.task'] ?? '', phase: c.phase, created: c.created }));
  }

  async localImage(image: string): Promise<LocalImage | undefined> {
    this.check('localImage');
    return this.images.has(image) ? { healthCheck: this.imagesWithHealthCheck.has(image) } : undefined;
  }

  async imageExposedPorts(image: string): Promise<PortConfig[]> {
    this.check('imageExposedPorts');
    return this.imageExposed.get(image) ?? [];
  }

  async hostPorts(id: string): Promise<Record<string, number>> {
    this.check('hostPorts');
    return this.boundPorts.get(id) ?? {};
  }

  async connectNetwork(): Promise<void> {
    this.check('connectNetwork');
  }

  async pullImage(image: string): Promise<void> {
    this.check('pullImage');
    throw engineError(404, `pull access denied for ${image}, repository does not exist`);
  }

  async createContainer(options: Docker.ContainerCreateOptions): Promise<string> {
    this.check('createContainer');
    if (this.createDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.createDelayMs));
    const id = this.add(options.Labels ?? {}, 'created');
    this.containers.get(id)!.name = options.name ?? id;
    return id;
  }

  async startContainer(id: string): Promise<void> {
    this.check('startContainer');
    this.containers.get(id)!.phase = 'running';
  }

  async stopContainer(id: string): Promise<void> {
    this.check('stopContainer');
    const c = this.containers.get(id);
    if (c && c.phase === 'running') {
      c.phase = 'exited';
      c.exitCode = 0;
    }
  }

  async removeContainer(id: string): Promise<void> {
    this.check('removeContainer');
    this.containers.delete(id);
  }
}
