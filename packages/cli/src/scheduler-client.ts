import * as grpc from '@grpc/grpc-js';
import { DEFAULT_SCHEDULER_ADDRESS, loadGrpc, parseAddressList, serviceMethods } from '@pisched/api';
import type { AdminCertificate, ClusterChannel, ControlDefinition, ClusterEvent, EventsRequest, ImageFetchProgress, Config, FileKind, Network, Secret, ClusterStatus, ControlClient, ServiceLogs, JoinClusterResponse, Node, RebalanceServicesRequestInput, RebalanceServicesResponse, UpdateClusterRequest, Service, ServiceSpecInput, ServiceSummary, Task } from '@pisched/api';
import { CliError, oneLine } from './errors';
import { UnaryChannel } from './unary-channel';
import { MissingCredentialsError } from './tls-lookup';
import { tcpConnectError } from './reachability-probe';

/** Long enough for a loaded Pi, short enough that a blackholed address never hangs the CLI. */
export const CALL_DEADLINE_MS = 10_000;

/** --scheduler, then PISCHED_SCHEDULER, then the default; one or more "HOST:PORT". */
export function resolveAddresses(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  const text = flag ?? (env.PISCHED_SCHEDULER?.trim() || DEFAULT_SCHEDULER_ADDRESS);
  try {
    return parseAddressList(text);
  } catch (error) {
    throw new CliError((error as Error).message);
  }
}

type ErrorLike = { code?: unknown; details?: unknown; message?: unknown };

/**
 * How a cluster member words UNAVAILABLE when it answered but cannot serve
 * the call now (no leader, the state not confirmed, the leader unreachable):
 * another member might, and the reason is worth more than "unavailable".
 */
const MEMBER_REFUSAL = /^(not the leader|cannot confirm the state is current|the leader \S+ at \S+ |leadership changed)/;

/**
 * Why an address could not be used, in a few words, or undefined when the
 * scheduler did answer (the error is then its own, to be shown as it is).
 */
export function unreachableReason(error: unknown): string | undefined {
  const { code, details, message } = (error ?? {}) as ErrorLike;
  const text = `${typeof details === 'string' ? details : ''} ${typeof message === 'string' ? message : ''}`;
  if (code === grpc.status.DEADLINE_EXCEEDED) return 'timed out';
  if (code !== grpc.status.UNAVAILABLE && !/ECONNREFUSED/.test(text)) return undefined;
  if (code === grpc.status.UNAVAILABLE && typeof details === 'string' && MEMBER_REFUSAL.test(details)) return oneLine(details);
  if (/ECONNREFUSED/.test(text)) return 'connection refused';
  if (/ETIMEDOUT/.test(text)) return 'timed out';
  if (/ENOTFOUND|EAI_AGAIN|Name resolution failed|DNS resolution failed/i.test(text)) return 'unknown host';
  if (/EHOSTUNREACH|ENETUNREACH/.test(text)) return 'host unreachable';
  if (/ECONNRESET|Connection dropped|socket closed/i.test(text)) return 'connection reset';
  return 'unavailable';
}

/** The single line shown when no address answered, or none could serve the call. */
export function unreachableMessage(failures: { address: string; reason: string }[]): string {
  if (failures.some((failure) => MEMBER_REFUSAL.test(failure.reason))) {
    return failures
      .map(({ address, reason }) => (MEMBER_REFUSAL.test(reason) ? `scheduler at ${address}: ${reason}` : `cannot reach scheduler at ${address}: ${reason}`))
      .join('; ');
  }
  const reasons = new Set(failures.map((failure) => failure.reason));
  if (reasons.size === 1) {
    return `cannot reach scheduler at ${failures.map((failure) => failure.address).join(', ')}: ${failures[0].reason}`;
  }
  return `cannot reach scheduler at ${failures.map((failure) => `${failure.address} (${failure.reason})`).join(', ')}`;
}

/** An error the scheduler answered with: its details are already one line for a person. */
export function schedulerErrorMessage(error: unknown): string {
  const { details, message } = (error ?? {}) as ErrorLike;
  if (typeof details === 'string' && details.trim() !== '') return oneLine(details);
  return oneLine(typeof message === 'string' ? message : String(error));
}

export function grpcCode(error: unknown): number | undefined {
  const code = (error as ErrorLike | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * How one address is dialled: over the cluster's mutual TLS, or on a local
 * scheduler's unix socket (no TLS: the socket's file modes are the access
 * check; answers unbounded, as over TLS).
 */
export type Dial = ClusterChannel | { socket: string };

/** The Control API's unary methods, and their request and answer as the generated client types them. */
type UnaryMethod = Exclude<keyof ControlDefinition & string, 'FollowServiceLogs' | 'Events' | 'PushImage'>;
type RequestOf<M extends UnaryMethod> = Parameters<ControlDefinition[M]['requestSerialize']>[0];
type ResponseOf<M extends UnaryMethod> = ReturnType<ControlDefinition[M]['responseDeserialize']>;

/** A task of a dry-run plan: its node, or empty with the reason it cannot be placed. */
export interface PlannedTask {
  slot: number;
  node: string;
  reason: string;
}

/** The cluster-wide settings in force. */
export interface ClusterSettings {
  heartbeatPeriodMs: number;
  heartbeatGrace: number;
  /** The default for services that do not choose one: binpack or spread. */
  placementStrategy: string;
  /** How long node certificates issued now live. */
  certExpiryMs: number;
  /** Whether specs with --privileged, --cap-add ALL or SYS_ADMIN are accepted. */
  allowPrivileged: boolean;
  /** Whether a task that finds no room may stop tasks of lower priority. */
  preemption: boolean;
  /** How placement treats hot and throttling nodes: off, prefer-cool or avoid-throttled. */
  thermalPolicy: string;
  /** How long a node may throttle before avoid-throttled places nothing new there. */
  thermalGraceMs: number;
  /** Whether services that do not choose are rebalanced by themselves when a node joins or returns. */
  rebalanceAuto: boolean;
}

/**
 * The Control API over one or more scheduler addresses. Addresses are tried
 * in order until one answers; that one is kept for the rest of the command.
 */
export class SchedulerClient {
  /** grpc-js clients, for streams. */
  private readonly clients = new Map<string, ControlClient>();
  /** Unary calls go straight over HTTP/2 (see unary-channel.ts). */
  private readonly unary = new Map<string, UnaryChannel>();
  private preferred = 0;

  /** channel: how to dial an address (the admin credentials), looked up when its first call is made (see tls-lookup). */
  constructor(
    readonly addresses: string[],
    private readonly channel: (address: string) => Dial,
    private readonly deadlineMs = CALL_DEADLINE_MS,
  ) {
    if (addresses.length === 0) throw new CliError('no scheduler address given');
  }

  createService(spec: ServiceSpecInput): Promise<Service> {
    return this.service('CreateService', { spec });
  }

  updateService(service: string, version: number, spec: ServiceSpecInput): Promise<Service> {
    return this.service('UpdateService', { service, version, spec });
  }

  rollbackService(service: string): Promise<Service> {
    return this.service('RollbackService', { service });
  }

  /** Moves tasks so their services' placement goals hold again; with dryRun only says what would move. */
  rebalanceServices(request: RebalanceServicesRequestInput): Promise<RebalanceServicesResponse> {
    return this.call('RebalanceServices', request);
  }

  resumeServiceUpdate(service: string): Promise<Service> {
    return this.service('ResumeServiceUpdate', { service });
  }

  getService(service: string): Promise<Service> {
    return this.service('GetService', { service });
  }

  async removeService(service: string): Promise<void> {
    await this.call('RemoveService', { service });
  }

  async listServices(): Promise<ServiceSummary[]> {
    return (await this.call('ListServices', {})).services;
  }

  async listTasks(service = ''): Promise<Task[]> {
    return (await this.call('ListTasks', { service })).tasks;
  }

  /** Every task's output (tail lines each; 0 = all) and a note for each part that could not be read. */
  serviceLogs(service: string, tail: number): Promise<ServiceLogs> {
    return this.call('GetServiceLogs', { service, tail });
  }

  /**
   * Every task's output, then its new lines as they come, batch by batch,
   * until the scheduler ends the stream (no task has a running container
   * left) or stop() is called. No deadline: following has no natural end.
   * An address that cannot be reached before anything arrived moves on to
   * the next, as for other calls.
   */
  followServiceLogs(service: string, tail: number, onBatch: (batch: ServiceLogs) => void): { done: Promise<void>; stop: () => void } {
    return this.follow((client) => client.FollowServiceLogs({ service, tail }) as grpc.ClientReadableStream<ServiceLogs>, onBatch);
  }

  /**
   * Streams the cluster's events as the first member that answers applies
   * them, until stop() or the member ends the stream. A member that cannot
   * be reached before anything arrived is skipped for the next, as other calls do.
   */
  events(request: EventsRequest, onEvent: (event: ClusterEvent) => void): { done: Promise<void>; stop: () => void } {
    return this.follow((client) => client.Events(request) as grpc.ClientReadableStream<ClusterEvent>, onEvent);
  }

  /**
   * A server stream from the first member that answers, until stop() or the
   * member ends it. A member that cannot be reached before anything arrived is
   * skipped for the next, as other calls do.
   */
  private follow<T>(open: (client: ControlClient) => grpc.ClientReadableStream<T>, onItem: (item: T) => void): { done: Promise<void>; stop: () => void } {
    let current: grpc.ClientReadableStream<T> | undefined;
    let stopped = false;
    const attempt = async (index: number, failures: { address: string; reason: string }[]): Promise<void> => {
      if (index >= this.addresses.length) throw new CliError(unreachableMessage(failures));
      const address = this.addresses[(this.preferred + index) % this.addresses.length];
      let client: ControlClient;
      try {
        client = this.client(address);
      } catch (error) {
        return attempt(index + 1, [...failures, { address, reason: await this.undialable(address, error) }]);
      }
      if (stopped) return;
      return new Promise<void>((resolve, reject) => {
        const stream = open(client);
        current = stream;
        let received = false;
        stream.on('data', (item: T) => {
          received = true;
          onItem(item);
        });
        // grpc-js ends the stream before it emits a failed call's error: only an OK status is a clean end.
        stream.on('status', (status: grpc.StatusObject) => {
          if (status.code === grpc.status.OK) resolve();
        });
        stream.on('error', (error: grpc.ServiceError) => {
          if (stopped && error.code === grpc.status.CANCELLED) return resolve();
          const reason = unreachableReason(error);
          if (reason === undefined || received) return reject(new SchedulerError(schedulerErrorMessage(error), grpcCode(error)));
          attempt(index + 1, [...failures, { address, reason }]).then(resolve, reject);
        });
      });
    };
    return {
      done: attempt(0, []),
      stop: () => {
        stopped = true;
        current?.cancel();
      },
    };
  }

  /** Copies an image node to node; progress lines until every node had its last (see `image push`). */
  pushImage(image: string, nodes: string[], onProgress: (progress: ImageFetchProgress) => void): { done: Promise<void>; stop: () => void } {
    return this.follow((client) => client.PushImage({ image, nodes }) as grpc.ClientReadableStream<ImageFetchProgress>, onProgress);
  }

  async listNodes(): Promise<Node[]> {
    return (await this.listNodesWithHeartbeats()).nodes;
  }

  /** The nodes, and milliseconds since each one's last heartbeat as the scheduler saw it. */
  listNodesWithHeartbeats(): Promise<{ nodes: Node[]; heartbeatAgeMs: Record<string, number> }> {
    return this.call('ListNodes', {});
  }

  /** Where each task of the spec would go, or why it cannot; nothing changes (--dry-run). */
  async planService(spec: ServiceSpecInput, service = ''): Promise<PlannedTask[]> {
    const response = await this.call('PlanService', { spec, service });
    return response.tasks.map((task) => ({ slot: task.slot, node: task.nodeId, reason: task.reason }));
  }

  async updateNode(node: string, update: { availability: string; labelAdd: Record<string, string>; labelRm: string[] }): Promise<Node> {
    const response = await this.call('UpdateNode', { node, ...update });
    if (!response.node) throw new CliError('the scheduler answered without a node');
    return response.node;
  }

  getCluster(): Promise<ClusterSettings> {
    return this.call('GetCluster', {});
  }

  /** The scheduler members as the member reached sees them. */
  getClusterStatus(): Promise<ClusterStatus> {
    return this.call('GetClusterStatus', { localOnly: false });
  }

  /** The join token of a role; with rotate, a new one that replaces it at once. */
  async joinToken(role: 'worker' | 'manager', rotate: boolean): Promise<{ token: string; address: string }> {
    const { token } = await this.call('GetJoinToken', { role, rotate });
    return { token, address: this.addresses[this.preferred] };
  }

  joinCluster(id: string, address: string): Promise<JoinClusterResponse> {
    return this.call('JoinCluster', { id, address });
  }

  /** Removes a node and revokes its certificates; resolves with how many were revoked. */
  async removeNode(node: string, force: boolean): Promise<number> {
    return (await this.call('RemoveNode', { node, force })).revoked;
  }

  /** The certificate (and root) for an admin CSR made here: the key never leaves this host. */
  issueAdminCertificate(name: string, csrPem: string): Promise<{ certPem: string; caPem: string }> {
    return this.call('IssueAdminCertificate', { name, csrPem });
  }

  async revokeAdminCertificate(name: string): Promise<number> {
    return (await this.call('RevokeAdminCertificate', { name })).revoked;
  }

  /** A one-time dashboard login; `address` is the scheduler address the answer came through. */
  async createDashboardLogin(): Promise<{ token: string; expiresAtMs: number; dashboardAddress: string; address: string }> {
    const login = await this.call('CreateDashboardLogin', {});
    return { ...login, expiresAtMs: Number(login.expiresAtMs), address: this.addresses[this.preferred] };
  }

  async listAdminCertificates(): Promise<AdminCertificate[]> {
    return (await this.call('ListAdminCertificates', {})).certificates;
  }

  removeClusterMember(id: string): Promise<ClusterStatus> {
    return this.call('RemoveClusterMember', { id });
  }

  /** 0 and '' leave a setting as it is. */
  /** 0 or '' in a field leaves that setting as it is. */
  updateCluster(update: UpdateClusterRequest): Promise<ClusterSettings> {
    return this.call('UpdateCluster', update);
  }

  /** Creates a secret (config) from its value; the answer never carries a secret's value back. */
  async createFileObject(kind: FileKind, name: string, data: Uint8Array, labels: Record<string, string> = {}): Promise<Secret | Config> {
    const response = kind === 'secret'
      ? (await this.call('CreateSecret', { name, data, labels })).secret
      : (await this.call('CreateConfig', { name, data, labels })).config;
    if (!response) throw new CliError(`the scheduler answered without a ${kind}`);
    return response;
  }

  async getFileObject(kind: FileKind, name: string): Promise<Secret | Config> {
    const response = kind === 'secret'
      ? (await this.call('GetSecret', { name })).secret
      : (await this.call('GetConfig', { name })).config;
    if (!response) throw new CliError(`the scheduler answered without a ${kind}`);
    return response;
  }

  async listFileObjects(kind: FileKind): Promise<(Secret | Config)[]> {
    if (kind === 'secret') return (await this.call('ListSecrets', {})).secrets;
    return (await this.call('ListConfigs', {})).configs;
  }

  async removeFileObject(kind: FileKind, name: string): Promise<void> {
    if (kind === 'secret') await this.call('RemoveSecret', { name });
    else await this.call('RemoveConfig', { name });
  }

  async createNetwork(name: string, labels: Record<string, string> = {}): Promise<Network> {
    const response = (await this.call('CreateNetwork', { name, labels })).network;
    if (!response) throw new CliError('the scheduler answered without a network');
    return response;
  }

  async listNetworks(): Promise<Network[]> {
    return (await this.call('ListNetworks', {})).networks;
  }

  async removeNetwork(name: string): Promise<void> {
    await this.call('RemoveNetwork', { name });
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
    for (const channel of this.unary.values()) channel.close();
    this.unary.clear();
  }

  private async service<M extends 'CreateService' | 'UpdateService' | 'RollbackService' | 'ResumeServiceUpdate' | 'GetService'>(method: M, request: RequestOf<M>): Promise<Service> {
    const response: { service: Service | null } = await this.call(method, request);
    if (!response.service) throw new CliError('the scheduler answered without a service');
    return response.service;
  }

  /**
   * One unary call. Only "could not reach" moves on to the next address: an
   * error the scheduler answered with is final, and becomes a CliError.
   */
  async call<M extends UnaryMethod>(method: M, request: RequestOf<M>): Promise<ResponseOf<M>> {
    // The definitions alone: loadGrpc() would load grpc-js, which only the streams need.
    const definition = serviceMethods('pisched.v1.Control')[method] as unknown as ControlDefinition[M];
    let bytes: Uint8Array;
    try {
      bytes = definition.requestSerialize(request as never);
    } catch (error) {
      throw new SchedulerError(`Request message serialization failure: ${(error as Error).message}`, grpc.status.INTERNAL);
    }
    const failures: { address: string; reason: string }[] = [];
    const order = this.addresses.map((_, i) => (this.preferred + i) % this.addresses.length);
    for (const index of order) {
      const address = this.addresses[index];
      let channel: UnaryChannel;
      try {
        channel = this.unaryChannel(address);
      } catch (error) {
        failures.push({ address, reason: await this.undialable(address, error) });
        continue;
      }
      let answer: Buffer;
      try {
        answer = await channel.call(definition.path, bytes, this.deadlineMs);
      } catch (error) {
        const reason = unreachableReason(error);
        if (reason === undefined) throw new SchedulerError(schedulerErrorMessage(error), grpcCode(error));
        failures.push({ address, reason });
        continue;
      }
      this.preferred = index;
      try {
        return definition.responseDeserialize(answer) as ResponseOf<M>;
      } catch (error) {
        throw new SchedulerError(`Response message parsing error: ${(error as Error).message}`, grpc.status.INTERNAL);
      }
    }
    throw new CliError(unreachableMessage(failures));
  }

  private unaryChannel(address: string): UnaryChannel {
    let channel = this.unary.get(address);
    if (!channel) {
      const dial = this.channel(address);
      channel = new UnaryChannel('socket' in dial ? { socket: dial.socket } : { address, tls: dial.tls() });
      this.unary.set(address, channel);
    }
    return channel;
  }

  /**
   * Why `address` is skipped when it could not even be dialled. Without
   * credentials (found only beside a running scheduler, when none is given)
   * a scheduler that is down is reported as unreachable like any other
   * address, and the next one is tried; one that is up gets the credentials
   * error itself, as does any other error.
   */
  private async undialable(address: string, error: unknown): Promise<string> {
    if (!(error instanceof MissingCredentialsError)) throw error;
    const failed = await tcpConnectError(address, this.deadlineMs);
    if (failed === undefined) throw error;
    return unreachableReason({ code: grpc.status.UNAVAILABLE, details: failed.message }) ?? 'unavailable';
  }

  /** The grpc-js client for streams. */
  private client(address: string): ControlClient {
    let client = this.clients.get(address);
    if (!client) {
      const Control = loadGrpc().Control;
      const dial = this.channel(address);
      client =
        'socket' in dial
          ? new Control(`unix:${dial.socket}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 })
          : new Control(address, dial.credentials, dial.options);
      this.clients.set(address, client);
    }
    return client;
  }
}

/** The scheduler refused or failed a request; code lets callers react (e.g. retry ABORTED). */
export class SchedulerError extends CliError {
  override name = 'SchedulerError';

  constructor(message: string, readonly code: number | undefined) {
    super(message);
  }
}
