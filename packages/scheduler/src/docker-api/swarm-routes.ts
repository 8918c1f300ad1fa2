import * as os from 'node:os';
import type { ServerResponse } from 'node:http';
import { isSameTaskSpec, type ClusterStatus, type Config, type Network, type Node, type Secret, type Service, type ServiceLogs, type ServiceSpec, type ServiceSummary, type Task } from '@pisched/api';
import * as grpc from '@grpc/grpc-js';
import { ControlCallError, type InProcessControl } from '../control/in-process-control';
import { accepts, acceptsLabels, parseFilters, prefixOf } from './docker-filters';
import { logFrame, logLine } from './docker-log-stream';
import { DockerApiError, badRequest, type Json } from './swarm-types';
import {
  assignIngressPorts,
  configToDocker,
  fileObjectFromDocker,
  nodeToDocker,
  nodeUpdateFromDocker,
  secretToDocker,
  serviceSpecFromDocker,
  serviceToDocker,
  taskToDocker,
  type ReferenceIds,
} from './swarm-translation';
import { dockerTime } from './docker-fields';
import { HOST_NETWORK, networkCreateFromDocker, networkToDocker, type NetworkLookup } from './swarm-networks';

/** The API versions this endpoint speaks: Swarm's objects as Engine API 1.41 shapes them. */
export const MAX_API_VERSION = '1.41';
export const MIN_API_VERSION = '1.24';
const PISCHED_VERSION = '0.1.0';

export interface RouteRequest {
  method: string;
  /** The path without the /v1.xx prefix. */
  path: string;
  query: URLSearchParams;
  body(): Promise<unknown>;
  /** The certificate (DER) the Control API is called as. */
  caller: Buffer;
  response: ServerResponse;
}

/** What a route answers: a status and a JSON body (undefined for none), or nothing when it wrote a stream itself. */
export type RouteReply = { status: number; json?: unknown; text?: string } | undefined;

type Route = { method: string; pattern: RegExp; handle: (request: RouteRequest, params: string[]) => Promise<RouteReply> };

/** What the routes know of the member serving them. */
export interface SwarmMember {
  id: string;
  listen: string;
  caPem(): string;
}

/**
 * Docker's Swarm endpoints, each a translation around Control API calls: the
 * handlers decide, validate and store; these only reshape requests and answers.
 */
export class SwarmRoutes {
  private readonly routes: Route[] = [];

  constructor(
    private readonly control: InProcessControl,
    private readonly member: SwarmMember,
  ) {
    const on = (method: string, path: string, handle: Route['handle']) => {
      // Object ids and names never hold '/', except image names in /distribution.
      const pattern = new RegExp(`^${path.replace(/:rest/g, '(.+)').replace(/:\w+/g, '([^/]+)')}$`);
      this.routes.push({ method, pattern, handle });
    };
    on('GET', '/_ping', async () => ({ status: 200, text: 'OK' }));
    on('HEAD', '/_ping', async () => ({ status: 200, text: '' }));
    on('GET', '/version', async () => ({ status: 200, json: this.version() }));
    on('GET', '/info', (r) => this.info(r));
    on('GET', '/swarm', (r) => this.swarm(r));
    on('GET', '/nodes', (r) => this.listNodes(r));
    on('GET', '/nodes/:id', async (r, [id]) => ({ status: 200, json: nodeToDocker(await this.resolveNode(r, id)) }));
    on('POST', '/nodes/:id/update', (r, [id]) => this.updateNode(r, id));
    on('DELETE', '/nodes/:id', async (r, [id]) => {
      const node = await this.resolveNode(r, id);
      await this.call(r, 'RemoveNode', { node: node.id, force: flag(r.query, 'force') });
      return { status: 200 };
    });
    on('GET', '/services', (r) => this.listServices(r));
    on('POST', '/services/create', (r) => this.createService(r));
    on('GET', '/services/:id', async (r, [id]) => {
      const service = await this.resolveService(r, id);
      return { status: 200, json: serviceToDocker(service, await this.referenceIds(r, [service])) };
    });
    on('POST', '/services/:id/update', (r, [id]) => this.updateService(r, id));
    on('DELETE', '/services/:id', async (r, [id]) => {
      const service = await this.resolveService(r, id);
      await this.call(r, 'RemoveService', { service: service.id });
      return { status: 200 };
    });
    on('GET', '/services/:id/logs', (r, [id]) => this.serviceLogs(r, id));
    on('GET', '/tasks', (r) => this.listTasks(r));
    on('GET', '/tasks/:id', (r, [id]) => this.inspectTask(r, id));
    for (const kind of ['secret', 'config'] as const) this.fileObjectRoutes(on, kind);
    this.networkRoutes(on);
    // The docker CLI asks a registry for the image's digest and platforms through the manager; pisched does not ask registries.
    on('GET', '/distribution/:rest/json', async () => {
      throw new DockerApiError(501, 'pisched does not query registries: each node pulls the image by its name');
    });
  }

  /** The route for a request, or a 404 naming what is not there. */
  async handle(request: RouteRequest): Promise<RouteReply> {
    for (const route of this.routes) {
      const match = route.pattern.exec(request.path);
      if (match && route.method === request.method) return route.handle(request, match.slice(1).map(decodeURIComponent));
    }
    const known = this.routes.some((route) => route.pattern.test(request.path));
    if (known) throw new DockerApiError(405, `${request.method} ${request.path} is not supported by pisched`);
    throw new DockerApiError(404, `page not found: pisched answers the Swarm part of the Docker API only (${request.method} ${request.path})`);
  }

  private call<Res>(request: RouteRequest, name: string, body: unknown): Promise<Res> {
    return this.control.unary<Res>(name, body, request.caller);
  }

  private version(): Json {
    return {
      Platform: { Name: 'pisched' },
      Components: [{ Name: 'pisched-scheduler', Version: PISCHED_VERSION, Details: { ApiVersion: MAX_API_VERSION, MinAPIVersion: MIN_API_VERSION } }],
      Version: PISCHED_VERSION,
      ApiVersion: MAX_API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: '',
      GoVersion: `node ${process.version}`,
      Os: 'linux',
      Arch: process.arch === 'x64' ? 'amd64' : process.arch,
      KernelVersion: os.release(),
      BuildTime: '',
    };
  }

  private async swarmObject(request: RouteRequest): Promise<Json> {
    const { cluster, heartbeatPeriodMs, certExpiryMs } = await this.call<{ cluster: { id: string; meta: Service['meta'] } | null; heartbeatPeriodMs: number; certExpiryMs: number }>(request, 'GetCluster', {});
    return {
      ID: cluster?.id ?? 'cluster',
      Version: { Index: Number(cluster?.meta?.version ?? 0) },
      CreatedAt: dockerTime(cluster?.meta?.createdAt),
      UpdatedAt: dockerTime(cluster?.meta?.updatedAt),
      Spec: {
        Name: 'default',
        Labels: {},
        Orchestration: {},
        Raft: {},
        Dispatcher: { HeartbeatPeriod: heartbeatPeriodMs * 1_000_000 },
        CAConfig: { NodeCertExpiry: Number(certExpiryMs) * 1_000_000 },
        TaskDefaults: {},
        EncryptionConfig: { AutoLockManagers: false },
      },
      TLSInfo: { TrustRoot: this.member.caPem() },
      RootRotationInProgress: false,
    };
  }

  private async swarm(request: RouteRequest): Promise<RouteReply> {
    const swarm = await this.swarmObject(request);
    const token = async (role: string) => (await this.call<{ token: string }>(request, 'GetJoinToken', { role, rotate: false })).token;
    return { status: 200, json: { ...swarm, JoinTokens: { Worker: await token('worker'), Manager: await token('manager') } } };
  }

  private async info(request: RouteRequest): Promise<RouteReply> {
    const [{ nodes }, status, cluster] = await Promise.all([
      this.call<{ nodes: Node[] }>(request, 'ListNodes', {}),
      this.call<ClusterStatus>(request, 'GetClusterStatus', { localOnly: false }),
      this.swarmObject(request),
    ]);
    const members = status.members.length > 0 ? status.members : [{ id: this.member.id, address: this.member.listen }];
    return {
      status: 200,
      json: {
        ID: this.member.id,
        Name: os.hostname(),
        ServerVersion: PISCHED_VERSION,
        OperatingSystem: 'pisched scheduler',
        OSType: 'linux',
        Architecture: os.arch(),
        NCPU: os.cpus().length,
        MemTotal: os.totalmem(),
        KernelVersion: os.release(),
        Containers: 0,
        Images: 0,
        Labels: [],
        Swarm: {
          NodeID: '',
          NodeAddr: this.member.listen.replace(/:\d+$/, ''),
          LocalNodeState: 'active',
          ControlAvailable: true,
          Error: '',
          RemoteManagers: members.map((m) => ({ NodeID: m.id, Addr: m.address })),
          Nodes: nodes.length,
          Managers: members.length,
          Cluster: cluster,
        },
      },
    };
  }

  private async listNodes(request: RouteRequest): Promise<RouteReply> {
    const filters = parseFilters(request.query.get('filters'), ['id', 'name', 'role', 'membership', 'label', 'node.label']);
    const { nodes } = await this.call<{ nodes: Node[] }>(request, 'ListNodes', {});
    const shown = nodes.filter(
      (node) =>
        accepts(filters, 'id', [node.id], prefixOf) &&
        accepts(filters, 'name', [node.description?.hostname ?? '', node.id], prefixOf) &&
        accepts(filters, 'role', ['worker']) &&
        accepts(filters, 'membership', ['accepted']) &&
        acceptsLabels(filters, node.description?.labels ?? {}) &&
        acceptsLabels(filters, node.labels ?? {}, 'node.label'),
    );
    return { status: 200, json: shown.map(nodeToDocker) };
  }

  /** A node by id, hostname or unique id prefix, as Docker finds one. */
  private async resolveNode(request: RouteRequest, wanted: string): Promise<Node> {
    const { nodes } = await this.call<{ nodes: Node[] }>(request, 'ListNodes', {});
    const found = unique(nodes, wanted, (node) => [node.description?.hostname ?? '']);
    if (!found) throw new DockerApiError(404, `node ${wanted} not found`);
    return found;
  }

  private async updateNode(request: RouteRequest, wanted: string): Promise<RouteReply> {
    const node = await this.resolveNode(request, wanted);
    checkVersion(request, node.meta?.version, `node ${node.id}`);
    const change = nodeUpdateFromDocker(await request.body(), node);
    await this.call(request, 'UpdateNode', { node: node.id, ...change });
    return { status: 200 };
  }

  /** A service by id, name or unique id prefix. */
  private async resolveService(request: RouteRequest, wanted: string): Promise<Service> {
    try {
      return (await this.call<{ service: Service }>(request, 'GetService', { service: wanted })).service;
    } catch (error) {
      if (!(error instanceof ControlCallError) || error.code !== grpc.status.NOT_FOUND) throw error;
    }
    const { services } = await this.call<{ services: ServiceSummary[] }>(request, 'ListServices', {});
    const found = unique(services.map((s) => s.service!), wanted, (service) => [service.spec?.name ?? '']);
    if (!found) throw new DockerApiError(404, `service ${wanted} not found`);
    return found;
  }

  /** The ids of the secrets, configs and networks these services name, for Docker's references. */
  private async referenceIds(request: RouteRequest, services: Array<Pick<Service, 'spec' | 'previousSpec'> | Pick<Task, 'spec'>>): Promise<ReferenceIds> {
    const specs = services.flatMap((s) => [s.spec, 'previousSpec' in s ? s.previousSpec : null]).filter((spec): spec is ServiceSpec => !!spec);
    const needs = (kind: 'secrets' | 'configs') => specs.some((spec) => (spec.container?.[kind].length ?? 0) > 0);
    const [secrets, configs, networks] = await Promise.all([
      needs('secrets') ? this.call<{ secrets: Secret[] }>(request, 'ListSecrets', {}).then((r) => r.secrets) : [],
      needs('configs') ? this.call<{ configs: Config[] }>(request, 'ListConfigs', {}).then((r) => r.configs) : [],
      specs.some((spec) => (spec.networks ?? []).length > 0) ? this.networks(request) : [],
    ]);
    const byName = (objects: Array<{ id: string; name: string }>) => new Map(objects.map((o) => [o.name, o.id]));
    const secretIds = byName(secrets);
    const configIds = byName(configs);
    const networkIds = byName(networks);
    return { secret: (name) => secretIds.get(name) ?? '', config: (name) => configIds.get(name) ?? '', network: (name) => networkIds.get(name) ?? '' };
  }

  private async networks(request: RouteRequest): Promise<Network[]> {
    return (await this.call<{ networks: Network[] }>(request, 'ListNetworks', {})).networks;
  }

  /** How a spec's network attachments are looked up: the networks as they are now, fetched only for a spec that names any. */
  private async networkLookup(request: RouteRequest, input: Json): Promise<NetworkLookup> {
    const template = (input?.TaskTemplate ?? {}) as Json;
    const named = [template.Networks, input?.Networks].some((attachments) => Array.isArray(attachments) && attachments.length > 0);
    if (!named) return () => undefined;
    const networks = await this.networks(request);
    return (target) => unique(networks, target, (network) => [network.name]);
  }

  private networkRoutes(on: (method: string, path: string, handle: Route['handle']) => void): void {
    const resolve = async (request: RouteRequest, wanted: string): Promise<Network> => {
      const found = unique(await this.networks(request), wanted, (network) => [network.name]);
      if (!found) throw new DockerApiError(404, `network ${wanted} not found`);
      return found;
    };
    on('GET', '/networks', async (request) => {
      const filters = parseFilters(request.query.get('filters'), ['id', 'name', 'label', 'driver', 'scope', 'type']);
      const shown = [...(await this.networks(request)).map(networkToDocker), HOST_NETWORK].filter(
        (n) =>
          accepts(filters, 'id', [String(n.Id)], prefixOf) &&
          // Docker matches a name filter anywhere in the name.
          accepts(filters, 'name', [String(n.Name)], (wanted, name) => name.includes(wanted)) &&
          accepts(filters, 'driver', [String(n.Driver)]) &&
          accepts(filters, 'scope', [String(n.Scope)]) &&
          accepts(filters, 'type', [n === HOST_NETWORK ? 'builtin' : 'custom']) &&
          acceptsLabels(filters, n.Labels as Record<string, string>),
      );
      return { status: 200, json: shown };
    });
    on('GET', '/networks/:id', async (request, [id]) => {
      if (id === 'host') return { status: 200, json: HOST_NETWORK };
      return { status: 200, json: networkToDocker(await resolve(request, id)) };
    });
    on('POST', '/networks/create', async (request) => {
      const { name, labels } = networkCreateFromDocker(await request.body());
      const { network } = await this.call<{ network: Network }>(request, 'CreateNetwork', { name, labels });
      return { status: 201, json: { Id: network.id, Warning: '' } };
    });
    on('DELETE', '/networks/:id', async (request, [id]) => {
      if (id === 'host') throw new DockerApiError(403, 'host is a pre-defined network and cannot be removed');
      const network = await resolve(request, id);
      await this.call(request, 'RemoveNetwork', { name: network.id });
      return { status: 204 };
    });
  }

  private async listServices(request: RouteRequest): Promise<RouteReply> {
    const filters = parseFilters(request.query.get('filters'), ['id', 'name', 'label', 'mode']);
    const { services } = await this.call<{ services: ServiceSummary[] }>(request, 'ListServices', {});
    const modes: Record<string, string> = { REPLICATED: 'replicated', GLOBAL: 'global', REPLICATED_JOB: 'replicated-job' };
    const shown = services.filter(
      ({ service }) =>
        accepts(filters, 'id', [service!.id], prefixOf) &&
        accepts(filters, 'name', [service!.spec!.name], prefixOf) &&
        accepts(filters, 'mode', [modes[service!.spec!.mode]]) &&
        acceptsLabels(filters, service!.spec!.labels ?? {}),
    );
    const ids = await this.referenceIds(request, shown.map((s) => s.service!));
    const withStatus = flag(request.query, 'status');
    return {
      status: 200,
      json: shown.map((summary) =>
        serviceToDocker(summary.service!, ids, withStatus ? { desired: Number(summary.desired), running: Number(summary.running), completed: Number(summary.completed) } : undefined),
      ),
    };
  }

  private async createService(request: RouteRequest): Promise<RouteReply> {
    const body = (await request.body()) as Json;
    const spec = serviceSpecFromDocker(body, undefined, await this.networkLookup(request, body));
    if (spec.ports?.some((port) => !port.publishedPort)) {
      const { services } = await this.call<{ services: ServiceSummary[] }>(request, 'ListServices', {});
      assignIngressPorts(spec.ports, services.map((s) => s.service!));
    }
    const { service } = await this.call<{ service: Service }>(request, 'CreateService', { spec });
    return { status: 201, json: { ID: service.id, Warnings: null } };
  }

  private async updateService(request: RouteRequest, wanted: string): Promise<RouteReply> {
    const service = await this.resolveService(request, wanted);
    const version = checkVersion(request, service.meta?.version, `service ${service.spec!.name}`);
    if (request.query.get('rollback') === 'previous') {
      await this.call(request, 'RollbackService', { service: service.id });
      return { status: 200, json: { Warnings: null } };
    }
    const body = (await request.body()) as Json;
    const spec = serviceSpecFromDocker(body, service.spec!, await this.networkLookup(request, body));
    if (spec.ports?.some((port) => !port.publishedPort)) {
      const { services } = await this.call<{ services: ServiceSummary[] }>(request, 'ListServices', {});
      assignIngressPorts(spec.ports, services.map((s) => s.service!));
    }
    await this.call(request, 'UpdateService', { service: service.id, version, spec });
    return { status: 200, json: { Warnings: null } };
  }

  private async listTasks(request: RouteRequest): Promise<RouteReply> {
    const filters = parseFilters(request.query.get('filters'), ['id', 'name', 'service', 'node', 'label', 'desired-state', '_up-to-date']);
    const [{ tasks }, { services }] = await Promise.all([
      this.call<{ tasks: Task[] }>(request, 'ListTasks', { service: '' }),
      this.call<{ services: ServiceSummary[] }>(request, 'ListServices', {}),
    ]);
    const serviceById = new Map(services.map((s) => [s.service!.id, s.service!]));
    const wantedServices = filters.get('service')?.map((wanted) => unique([...serviceById.values()], wanted, (s) => [s.spec?.name ?? ''])?.id ?? wanted);
    const wantedNodes = filters.has('node') ? await this.nodeIdsFor(request, filters.get('node')!) : undefined;
    const upToDate = filters.has('_up-to-date');
    const shown = tasks.filter((task) => {
      const service = serviceById.get(task.serviceId);
      const name = `${task.serviceName}.${task.slot || task.nodeId}`;
      return (
        accepts(filters, 'id', [task.id], prefixOf) &&
        accepts(filters, 'name', [name, task.serviceName], prefixOf) &&
        (!wantedServices || wantedServices.includes(task.serviceId)) &&
        (!wantedNodes || wantedNodes.includes(task.nodeId)) &&
        accepts(filters, 'desired-state', [task.desiredState.toLowerCase()]) &&
        // Swarm filters tasks by their service's labels (how `docker stack ps` finds a stack's).
        acceptsLabels(filters, task.spec?.labels ?? {}) &&
        (!upToDate || (service !== undefined && isSameTaskSpec(task.spec, service.spec)))
      );
    });
    const ids = await this.referenceIds(request, shown);
    return { status: 200, json: shown.map((task) => taskToDocker(task, ids)) };
  }

  private async nodeIdsFor(request: RouteRequest, wanted: string[]): Promise<string[]> {
    const { nodes } = await this.call<{ nodes: Node[] }>(request, 'ListNodes', {});
    return wanted.map((w) => unique(nodes, w, (node) => [node.description?.hostname ?? ''])?.id ?? w);
  }

  private async inspectTask(request: RouteRequest, wanted: string): Promise<RouteReply> {
    const { tasks } = await this.call<{ tasks: Task[] }>(request, 'ListTasks', { service: '' });
    const task = unique(tasks, wanted, () => []);
    if (!task) throw new DockerApiError(404, `task ${wanted} not found`);
    return { status: 200, json: taskToDocker(task, await this.referenceIds(request, [task])) };
  }

  private fileObjectRoutes(on: (method: string, path: string, handle: Route['handle']) => void, kind: 'secret' | 'config'): void {
    const Kind = kind === 'secret' ? 'Secret' : 'Config';
    const plural = `${kind}s`;
    const show = (object: Secret | Config, full: boolean) => (kind === 'secret' ? secretToDocker(object as Secret) : configToDocker(object as Config, full));
    const get = async (request: RouteRequest, wanted: string) => {
      const listed = (await this.call<Record<string, Array<Secret | Config>>>(request, `List${Kind}s`, {}))[plural];
      const found = unique(listed, wanted, (o) => [o.name]);
      if (!found) throw new DockerApiError(404, `${kind} ${wanted} not found`);
      return (await this.call<Record<string, Secret | Config>>(request, `Get${Kind}`, { name: found.id }))[kind];
    };
    on('GET', `/${plural}`, async (request) => {
      const filters = parseFilters(request.query.get('filters'), ['id', 'name', 'names', 'label']);
      const listed = (await this.call<Record<string, Array<Secret | Config>>>(request, `List${Kind}s`, {}))[plural];
      const shown = listed.filter(
        (o) => accepts(filters, 'id', [o.id], prefixOf) && accepts(filters, 'name', [o.name], prefixOf) && accepts(filters, 'names', [o.name]) && acceptsLabels(filters, o.labels ?? {}),
      );
      return { status: 200, json: shown.map((o) => show(o, false)) };
    });
    on('POST', `/${plural}/create`, async (request) => {
      const { name, labels, data } = fileObjectFromDocker(Kind, await request.body());
      const created = (await this.call<Record<string, Secret | Config>>(request, `Create${Kind}`, { name, labels, data }))[kind];
      return { status: 201, json: { ID: created.id } };
    });
    on('GET', `/${plural}/:id`, async (request, [id]) => ({ status: 200, json: show(await get(request, id), true) }));
    on('DELETE', `/${plural}/:id`, async (request, [id]) => {
      const object = await get(request, id);
      await this.call(request, `Remove${Kind}`, { name: object.id });
      return { status: 204 };
    });
    // Swarm's rule: labels only; docker stack deploy sends the unchanged spec again, value included.
    on('POST', `/${plural}/:id/update`, async (request, [id]) => {
      const object = await get(request, id);
      const version = checkVersion(request, object.meta?.version, `${kind} ${object.name}`);
      const { name, labels, data } = fileObjectFromDocker(Kind, await request.body());
      if (name !== '' && name !== object.name) throw badRequest(`only the labels of ${kind} ${object.name} can be changed: its name cannot`);
      await this.call(request, `Update${Kind}`, { name: object.id, version, labels, data });
      return { status: 200 };
    });
  }

  private async serviceLogs(request: RouteRequest, wanted: string): Promise<RouteReply> {
    const service = await this.resolveService(request, wanted);
    const query = request.query;
    const streams = { stdout: flag(query, 'stdout'), stderr: flag(query, 'stderr') };
    if (!streams.stdout && !streams.stderr) throw badRequest('Bad parameters: you must choose at least one stream');
    const tailText = query.get('tail') ?? 'all';
    const tail = tailText === 'all' || tailText === '' ? 0 : Number(tailText);
    if (!Number.isInteger(tail) || tail < 0) throw badRequest(`invalid tail "${tailText}": a number of lines or all`);
    const since = parseSince(query.get('since'));
    const options = { serviceId: service.id, timestamps: flag(query, 'timestamps'), details: flag(query, 'details') };
    const wantedEntry = (entry: ServiceLogs['entries'][number]) =>
      (entry.stream === 'stderr' ? streams.stderr : streams.stdout) && (since === undefined || (entry.timestamp !== '' && Date.parse(entry.timestamp) >= since));
    const { response } = request;
    if (!flag(query, 'follow')) {
      const logs = await this.call<ServiceLogs>(request, 'GetServiceLogs', { service: service.id, tail });
      response.writeHead(200, { 'Content-Type': 'application/vnd.docker.raw-stream' });
      for (const entry of logs.entries) if (wantedEntry(entry)) response.write(logLine(entry, options));
      // Swarm reports a part it cannot read as an error in the stream; the docker CLI prints it.
      if (logs.notes.length > 0) response.write(logFrame(3, logs.notes.join('; ')));
      response.end();
      return undefined;
    }
    const notes: string[] = [];
    let started = false;
    const start = () => {
      if (started) return;
      started = true;
      response.writeHead(200, { 'Content-Type': 'application/vnd.docker.raw-stream' });
      // The CLI waits for the headers before it prints anything.
      response.flushHeaders();
    };
    await new Promise<void>((resolve, reject) => {
      const stop = this.control.stream<ServiceLogs>(
        'FollowServiceLogs',
        { service: service.id, tail },
        request.caller,
        (batch) => {
          start();
          for (const entry of batch.entries) if (wantedEntry(entry)) response.write(logLine(entry, options));
          notes.push(...batch.notes);
        },
        (error) => {
          if (error && !started) return reject(error);
          start();
          if (notes.length > 0) response.write(logFrame(3, notes.join('; ')));
          response.end();
          resolve();
        },
      );
      response.once('close', () => {
        stop();
        resolve();
      });
      start();
    });
    return undefined;
  }
}

/** Docker's boolean query values: 1, true, True. */
function flag(query: URLSearchParams, name: string): boolean {
  const value = (query.get(name) ?? '').toLowerCase();
  return value === '1' || value === 'true';
}

/** `since` as Docker sends it: Unix seconds with an optional fraction, or 0 for none. */
function parseSince(text: string | null): number | undefined {
  if (!text || text === '0') return undefined;
  const seconds = Number(text);
  if (Number.isFinite(seconds)) return seconds * 1000;
  const parsed = Date.parse(text);
  if (Number.isNaN(parsed)) throw badRequest(`invalid since "${text}": Unix seconds or an RFC 3339 time`);
  return parsed;
}

/** The `version` query parameter an update must carry: the Version.Index the client read. */
function checkVersion(request: RouteRequest, current: number | string | undefined, what: string): number {
  const text = request.query.get('version');
  const version = Number(text);
  if (text === null || !Number.isInteger(version) || version < 0) throw badRequest(`invalid version "${text ?? ''}": the Version.Index of the ${what} read before`);
  if (version !== Number(current)) throw new DockerApiError(409, `update out of sequence: ${what} is at version ${Number(current)}, not ${version}; inspect it again`);
  return version;
}

/** By exact id, then by exact name, then by unique id prefix: Docker's rule for naming an object. */
function unique<T extends { id: string }>(objects: T[], wanted: string, names: (object: T) => string[]): T | undefined {
  const byId = objects.find((o) => o.id === wanted);
  if (byId) return byId;
  const byName = objects.filter((o) => names(o).includes(wanted));
  if (byName.length === 1) return byName[0];
  if (byName.length > 1) throw badRequest(`${wanted} is ambiguous (${byName.length} matches)`);
  const byPrefix = objects.filter((o) => o.id.startsWith(wanted));
  if (byPrefix.length === 1) return byPrefix[0];
  if (byPrefix.length > 1) throw badRequest(`${wanted} is ambiguous (${byPrefix.length} matches)`);
  return undefined;
}
