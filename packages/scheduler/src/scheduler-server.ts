import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { RenewableIdentity, SERVER_MAX_RECEIVE_BYTES, callerCertificateExpiry, parseHostPort, certificateExpired, clusterChannel, loadGrpc, readIdentity, serverCredentials, startMetricsEndpoint, type MetricsEndpoint, type ClusterCa, type ClusterChannel, type ControlHandlers, type PlacementStrategy, type TlsIdentity, watchEventLoopStalls, type EventLoopStalls } from '@pisched/api';
import type { Logger } from 'pino';
import { Store } from './store/store';
import { LocalCommandLog } from './store/local-command-log';
import { newId } from './store/ids';
import { ControlLoop } from './orchestrator/control-loop';
import { loopPasses, planPasses } from './orchestrator/reconcile-passes';
import type { Clock } from './orchestrator/task-factory';
import { updateReportRules } from './updater/report-rules';
import { Dispatcher } from './dispatcher/dispatcher';
import { dispatcherService } from './dispatcher/session-service';
import { controlHandlers } from './control/control-api';
import { RaftCommandLog } from './store/raft-command-log';
import type { ClusterStart } from './cluster/bootstrap';
import { Membership } from './cluster/membership';
import { gateControlHandlers } from './cluster/control-gate';
import { clusterStatusHandler } from './cluster/cluster-status';
import { MemberStatusClient } from './cluster/status-client';
import { watchForRemoval } from './cluster/removal-watch';
import { clusterHandlers } from './cluster/membership-handlers';
import { seedPlacementStrategy } from './cluster/cluster-settings';
import { CertificateAuthority } from './security/certificate-authority';
import { securityHandlers } from './security/security-handlers';
import { authorizeControl } from './security/authorize-control';
import { authorizeSession, raftCredentials } from './security/member-credentials';
import { ADMIN_TLS_DIR, reissueMemberCertificate, storedIdentity, writeFirstStartCredentials } from './security/member-identity';
import { memberRenewer } from './security/member-renewal';
import { revocationCheck, revokeNode } from './security/revocation';
import { revocationHandlers } from './security/revocation-handlers';
import type { SchedulerMetrics } from './metrics/scheduler-metrics';
import { logRaftDiagnostics } from './store/raft-diagnostics';
import { EventLog } from './events/event-log';
import { eventsHandler } from './events/events-handler';
import { recordEvents } from './events/record-events';
import { fileObjectHandlers } from './control/file-object-handlers';
import { DockerApiServer, type DockerApiAddress } from './docker-api/docker-api-server';
import { serverIdentity, serverNames } from './security/server-certificate';
import { dashboardLoginHandlers } from './security/dashboard-login-handlers';
import { InProcessControl } from './control/in-process-control';
import { DashboardFeed } from './dashboard/dashboard-feed';
import { dashboardActions } from './dashboard/dashboard-actions';
import { startDashboard, type DashboardEndpoint } from './dashboard/dashboard-server';
import { networkHandlers } from './control/network-handlers';
import { imageHandlers } from './control/image-handlers';
import { ControlSocket } from './control/control-socket';

export interface SchedulerOptions {
  id: string;
  listen: string;
  dataDir: string;
  heartbeatPeriodMs: number;
  heartbeatGrace: number;
  /**
   * The initial default strategy of a new cluster (binpack when not given):
   * stored by the first leader that finds none; a stored one is never replaced by it.
   */
  placementStrategy?: PlacementStrategy;
  /** This member's place in a Raft cluster; a single scheduler without Raft when absent. */
  cluster?: ClusterStart;
  /**
   * This member's credentials (required with cluster). A single scheduler
   * without them reads its own from the data dir, or at its first start
   * creates the cluster CA and issues them.
   */
  identity?: TlsIdentity;
  /** The root CA a --peers member was started with: stored by the first leader that finds none. */
  caSeed?: ClusterCa;
  /** Called once this member has applied its own removal from the cluster (it has stopped serving). */
  onRemoved?: () => void;
  /** Serve Prometheus metrics here (HTTP on loopback, HTTPS with cluster client certificates elsewhere); off when absent. */
  metricsAddr?: string;
  /** Serve Docker's Swarm API here (--docker-api-addr): TCP with mutual TLS, unix sockets owner-only. */
  dockerApiAddrs?: DockerApiAddress[];
  /** Serve the web dashboard here (HTTPS with the member's certificate); off when absent. */
  dashboardAddr?: string;
  /**
   * Serve the Control API on a unix socket in the data dir (control/, owner-only)
   * for the CLI on this machine, when the data dir holds an admin bundle; on unless false.
   */
  controlSocket?: boolean;
  log: Logger;
}

/** How often the leader looks for learners that have caught up. */
const PROMOTE_EVERY_MS = 500;
/** How long a dashboard action may wait for a leader (an election) before the page is told. */
const DASHBOARD_CALL_DEADLINE_MS = 10_000;
/** How long a Docker API request may take through the Control API before it is refused, as the docker CLI's own deadline. */
const DOCKER_API_CALL_DEADLINE_MS = 30_000;

const systemClock: Clock = { now: () => Date.now(), newId };

/**
 * One scheduler: the store (rebuilt from its durable log), the roles that
 * drive it — orchestrator, placement, reaper, dispatcher — and the gRPC
 * server for the CLI and the agents. Data flows one way: spec → desired tasks
 * → placement → assignment → agent → observed status.
 */
export class SchedulerServer {
  readonly store = new Store();
  /** This member's recent events (`pisched events`): in memory only. */
  readonly events = new EventLog();
  private stopRecordingEvents?: () => void;
  private readonly commandLog: LocalCommandLog | RaftCommandLog;
  /** Whether the leader-only roles (control loop, dispatcher's sessions and heartbeat checks) run here. */
  private leading = false;
  private stopped = false;
  private readonly loop: ControlLoop;
  private readonly dispatcher: Dispatcher;
  private readonly server = new grpc.Server({ 'grpc.max_receive_message_length': SERVER_MAX_RECEIVE_BYTES });
  private readonly membership?: Membership;
  private promoter?: NodeJS.Timeout;
  private readonly otherMembers = new MemberStatusClient(() => this.channel);
  private readonly ca = new CertificateAuthority(this.store);
  private readonly revoked = revocationCheck(this.store);
  /** Replaced in place when this member renews its certificate: servers and channels follow it. */
  private identity?: RenewableIdentity;
  private clientChannel?: ClusterChannel;
  private renewer?: { stop(): void };
  private stopRemovalWatch?: () => void;
  private readonly metrics?: SchedulerMetrics;
  private metricsEndpoint?: MetricsEndpoint;
  private stalls?: EventLoopStalls;
  /** The Control API as the gRPC server serves it (authorization first), for in-process callers such as the Docker API. */
  private readonly controlService: ControlHandlers;
  private dockerApi?: DockerApiServer;
  /** The Control API as a call reaches it (gated on a Raft member), for the dashboard's actions. */
  private readonly control: InProcessControl;
  private dashboard?: DashboardEndpoint;
  private controlSocket?: ControlSocket;
  port = 0;

  constructor(private readonly options: SchedulerOptions) {
    const { cluster } = options;
    if (cluster && !options.identity) throw new Error('a cluster member needs its credentials');
    this.identity = options.identity && new RenewableIdentity(options.identity);
    this.commandLog = cluster
      ? new RaftCommandLog(options.dataDir, this.store, cluster.self, cluster.members, { joining: cluster.joining, credentials: raftCredentials(this.identity!, this.revoked) })
      : new LocalCommandLog(options.dataDir, this.store);
    const raft = this.commandLog instanceof RaftCommandLog ? this.commandLog : undefined;
    const placement = { strategy: this.initialStrategy };
    const passes = planPasses(systemClock, placement);
    // Placements are timed only in the loop's own passes, not in --dry-run's plans.
    // Every loop pass names its clock's moments (wakesItself): the 250 ms tick runs only after a round that failed.
    this.loop = new ControlLoop(this.store, loopPasses(systemClock, placement, (actions) => this.metrics?.observePlacements(actions, systemClock.now())), options.log, 250);
    this.dispatcher = new Dispatcher(
      this.store,
      systemClock,
      {
        heartbeatPeriodMs: options.heartbeatPeriodMs,
        heartbeatGrace: options.heartbeatGrace,
        refuse: raft ? () => (this.leading ? undefined : raft.notLeader().message) : undefined,
        leaderAddress: raft ? () => raft.leader()?.address : undefined,
        electedHere: raft ? () => raft.host.isLeader : undefined,
        authorizeSession: (call, nodeId) => authorizeSession(call, nodeId, this.revoked),
        // TLS checks a certificate's dates only at the handshake: a session must not outlive its certificate.
        sessionExpiry: callerCertificateExpiry,
        onHeartbeatFailure: () => this.metrics?.heartbeatFailure(),
        reportRules: updateReportRules,
      },
      options.log.child({ role: 'dispatcher' }),
    );
    const api = loadGrpc();
    const status = clusterStatusHandler({ id: options.id, listen: options.listen }, this.store, raft, this.otherMembers);
    this.membership = raft && new Membership(raft, async (peer) => (await this.otherMembers.ask(peer.address)) !== undefined);
    const revokeMember = async (id: string) => {
      await this.store.update((state) => revokeNode(state, id, 'manager', Date.now()).actions);
    };
    const members = clusterHandlers(raft, this.membership, status, raft && this.channel, revokeMember);
    // ControlHandlers has an index signature, so the two halves' types do not add up by themselves.
    const control = {
      ...controlHandlers(this.store, systemClock, passes, this.dispatcher, members, this.dispatcher, this.initialStrategy),
      ...securityHandlers(this.store, this.ca, options.log.child({ role: 'ca' })),
      ...fileObjectHandlers(this.store, systemClock),
      ...networkHandlers(this.store, systemClock),
      ...imageHandlers(this.dispatcher),
      ...eventsHandler(this.events),
      ...revocationHandlers(this.store, this.ca, (id) => raft?.members.byId(id) !== undefined, options.log.child({ role: 'ca' })),
      ...dashboardLoginHandlers(this.store, () => this.dashboard?.address),
    } as ControlHandlers;
    const served = raft ? gateControlHandlers(control, raft, this.channel) : control;
    // The dashboard authenticates the person itself, so it calls the handlers behind the certificate check.
    this.control = new InProcessControl(served, { peer: 'dashboard', deadlineMs: DASHBOARD_CALL_DEADLINE_MS });
    // The caller's certificate is checked first: nothing is forwarded for a caller without the right role.
    this.controlService = authorizeControl(served, this.revoked);
    this.server.addService(api.Control.service, this.controlService);
    this.server.addService(dispatcherService(), this.dispatcher.handlers());
    if (options.metricsAddr) {
      // Required only with --metrics-addr: prom-client and what it pulls in cost every other scheduler memory and start-up time.
      const { SchedulerMetrics } = require('./metrics/scheduler-metrics') as typeof import('./metrics/scheduler-metrics');
      this.metrics = new SchedulerMetrics({
        store: this.store,
        raft,
        leading: () => this.leading,
        dispatcherSessions: () => this.dispatcher.sessionCount,
        eventLoopMaxDelayMs: () => this.stalls?.takeMaxDelayMs() ?? 0,
      });
    }
    const log = options.log;
    const debugWrites = log.isLevelEnabled('debug');
    if (this.metrics || debugWrites) {
      this.store.writeObserver = (write) => {
        this.metrics?.observeWrite(write);
        if (debugWrites) log.debug(write, 'store write');
      };
    }
  }

  /** How this member dials the others (forwarding, status, removal): mutual TLS with its own certificate. */
  private get channel(): ClusterChannel {
    if (!this.identity) throw new Error('this scheduler has no credentials yet');
    this.clientChannel ??= clusterChannel(this.identity);
    return this.clientChannel;
  }

  /**
   * A single scheduler's credentials: from its data dir, or at its first
   * start a new cluster CA (in the store) and its own and the admin's
   * certificates signed with it.
   */
  private async ownIdentity(): Promise<TlsIdentity> {
    const stored = storedIdentity(this.options.dataDir);
    const security = this.store.state.security;
    if (stored && security && certificateExpired(stored.certPem)) {
      // Off longer than its certificate's life: this scheduler holds the CA, so it issues itself a new one.
      this.options.log.warn('this scheduler\'s certificate expired while it was off; issuing it a new one');
      return reissueMemberCertificate(this.options.dataDir, this.options.id, { certPem: security.rootCaCert, keyPem: security.rootCaKey });
    }
    if (stored) return stored;
    await this.ca.ensure();
    const ensured = this.store.state.security!;
    const identity = await writeFirstStartCredentials(this.options.dataDir, this.options.id, { certPem: ensured.rootCaCert, keyPem: ensured.rootCaKey });
    this.options.log.info({ id: this.options.id }, 'new cluster: root CA created; admin credentials written to the data dir (admin/)');
    return identity;
  }

  async start(): Promise<void> {
    this.identity ??= new RenewableIdentity(await this.ownIdentity());
    // Clients without a certificate get through the handshake only to join (authorizeControl refuses the rest).
    const credentials = serverCredentials(this.identity, { requireClientCert: false });
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(this.options.listen, credentials, (error, port) =>
        error ? reject(new Error(`cannot listen on ${this.options.listen}: ${error.message}`)) : resolve(port),
      ),
    );
    await this.startControlSocket();
    // From here on: what the constructor replayed from the local log happened before, not now.
    this.stalls = watchEventLoopStalls({
      onStall: (blockedMs, since) => this.options.log.warn({ blockedMs, since: since.toISOString() }, 'event loop blocked'),
    });
    this.stopRecordingEvents = recordEvents(this.store, this.events, () => Date.now(), this.commandLog instanceof RaftCommandLog ? this.commandLog : undefined);
    if (this.commandLog instanceof RaftCommandLog) {
      const raft = this.commandLog;
      raft.host.on('leader-change', (leaderId: number, term: number) => {
        this.options.log.info({ leader: raft.leader()?.id ?? null, term }, leaderId === 0 ? 'no leader' : 'leader changed');
        this.followLeadership(raft);
      });
      logRaftDiagnostics(raft.host, this.options.log);
      raft.once('removed', () => {
        this.options.log.warn({ id: this.options.id }, 'removed from the cluster: stopping; to join again, start with an empty --data-dir and --join');
        this.stop().then(() => this.options.onRemoved?.());
      });
      await raft.start();
      const membership = this.membership!;
      this.promoter = setInterval(() => {
        membership.promoteCaughtUp().catch((error: Error) => this.options.log.debug({ err: error.message }, 'promoting a learner failed; trying again'));
      }, PROMOTE_EVERY_MS);
      this.promoter.unref();
      this.stopRemovalWatch = watchForRemoval(raft, this.otherMembers);
    } else {
      this.startLeading();
    }
    const renewer = memberRenewer({
      dataDir: this.options.dataDir,
      identity: this.identity,
      ca: this.ca,
      store: this.store,
      leader: () => {
        const raft = this.commandLog instanceof RaftCommandLog ? this.commandLog : undefined;
        return !raft || raft.host.isLeader ? { self: true } : { self: false, address: raft.leader()?.address };
      },
      channel: this.channel,
      log: this.options.log,
    });
    renewer.start();
    this.renewer = renewer;
    if (this.metrics) {
      const metrics = this.metrics;
      this.metricsEndpoint = await startMetricsEndpoint(this.options.metricsAddr!, { contentType: metrics.contentType, render: () => metrics.render() }, this.identity);
      this.options.log.info({ address: this.metricsEndpoint.address, scheme: this.metricsEndpoint.scheme }, 'serving metrics');
    }
    if (this.options.dockerApiAddrs?.length) await this.startDockerApi(this.options.dockerApiAddrs);
    if (this.options.dashboardAddr) {
      const control = this.control;
      this.dashboard = await startDashboard({
        address: this.options.dashboardAddr,
        identity: this.identity,
        serverIdentity: serverIdentity(this.store, `${this.options.id}-dashboard`, serverNames([parseHostPort(this.options.dashboardAddr, 0, true).host])),
        log: this.options.log.child({ role: 'dashboard' }),
        caStored: () => this.store.state.security !== undefined,
        feed: new DashboardFeed(this.store, this.events, this.options.id, () => control.unary('GetClusterStatus', { localOnly: false })),
        actions: dashboardActions(control),
        control,
        revoked: this.revoked,
      });
      this.options.log.info({ address: this.dashboard.address }, 'serving the dashboard over https');
    }
    const { services, tasks, nodes } = this.store.state;
    this.options.log.info(
      { id: this.options.id, listen: this.options.listen, services: services.size, tasks: tasks.size, nodes: nodes.size },
      'scheduler started',
    );
  }

  /**
   * The local control socket, acting with the data dir's admin bundle: a member
   * without one (added with --join) has none, and its CLI callers use TLS. A
   * socket that cannot be made (a path too long for a socket) leaves the CLI on TLS too.
   */
  private async startControlSocket(): Promise<void> {
    if (this.options.controlSocket === false) return;
    const admin = readIdentity(path.join(this.options.dataDir, ADMIN_TLS_DIR), 'admin');
    if (!admin) return;
    const socket = new ControlSocket({
      dataDir: this.options.dataDir,
      host: parseHostPort(this.options.listen, 0, true).host,
      port: this.port,
      adminCertPem: admin.certPem,
      control: this.controlService,
    });
    try {
      await socket.start();
      this.controlSocket = socket;
      this.options.log.info({ path: socket.path }, 'serving the Control API on a local socket (owner only)');
    } catch (error) {
      this.options.log.warn({ err: (error as Error).message }, 'cannot serve the Control API on a local socket; the CLI here uses TLS');
    }
  }

  /** Addresses the Docker API listens on (the port is known after binding :0). */
  get dockerApiAddresses(): string[] {
    return this.dockerApi?.bound ?? [];
  }

  private async startDockerApi(addresses: DockerApiAddress[]): Promise<void> {
    const dockerApi = new DockerApiServer({
      addresses,
      // As the caller's certificate: the same authorization as over gRPC.
      control: new InProcessControl(this.controlService, { peer: 'docker-api', deadlineMs: DOCKER_API_CALL_DEADLINE_MS }),
      member: { id: this.options.id, listen: this.options.listen, caPem: () => this.identity!.current.caPem },
      identity: this.identity!,
      serverIdentity: serverIdentity(this.store, `${this.options.id}-docker-api`, serverNames(addresses.flatMap((address) => (address.kind === 'tcp' ? [address.host] : [])))),
      revoked: this.revoked,
      log: this.options.log.child({ role: 'docker-api' }),
    });
    this.dockerApi = dockerApi;
    // A new cluster's CA may not be stored yet (its first leader stores it): serve once it is, without holding up the start.
    if (this.store.state.security) await dockerApi.start();
    else dockerApi.start().catch((error: Error) => this.options.log.error({ err: error.message }, 'cannot serve the Docker API'));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.dockerApi?.stop();
    this.controlSocket?.stop();
    this.renewer?.stop();
    this.stopRecordingEvents?.();
    this.stalls?.stop();
    await this.metricsEndpoint?.close();
    await this.dashboard?.close();
    clearInterval(this.promoter);
    this.stopRemovalWatch?.();
    this.otherMembers.close();
    this.stopLeading();
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    this.server.forceShutdown();
    if (this.commandLog instanceof RaftCommandLog) await this.commandLog.stop();
    else this.commandLog.close();
  }

  /**
   * Runs the leader-only roles while this member leads. A new leader first
   * waits for a read barrier, which returns once everything committed in
   * earlier terms is applied here: orchestrating from a view missing those
   * entries would undo or repeat them.
   */
  private followLeadership(raft: RaftCommandLog): void {
    if (!raft.host.isLeader) {
      this.stopLeading();
      return;
    }
    if (this.leading) return;
    const term = raft.host.term;
    raft.host.readIndex().then(
      () => {
        if (!this.stopped && raft.host.isLeader && raft.host.term === term && !this.leading) this.startLeading();
      },
      (error: Error) => {
        this.options.log.warn({ err: error.message }, 'cannot confirm leadership yet; trying again');
        // No new leader-change event comes while the leadership stands: try again.
        setTimeout(() => {
          if (!this.stopped) this.followLeadership(raft);
        }, 200).unref();
      },
    );
  }

  private get initialStrategy(): PlacementStrategy {
    return this.options.placementStrategy ?? 'binpack';
  }

  private startLeading(): void {
    this.leading = true;
    this.options.log.info({ id: this.options.id }, 'leading: running orchestration and accepting agents');
    this.dispatcher.start();
    this.loop.start();
    this.storeInitialSettings();
    this.storeClusterCa();
  }

  /** The first leader of a --peers cluster stores the root its members were started with. */
  private storeClusterCa(): void {
    if (this.store.state.security || !this.options.caSeed) return;
    this.ca.ensure(this.options.caSeed).then(
      () => this.options.log.info('cluster root CA stored'),
      // The next leader tries again; until then joins are refused.
      (error: Error) => this.options.log.warn({ err: error.message }, 'could not store the cluster root CA'),
    );
  }

  /** Stores --placement-strategy as the cluster's default if it has none yet; says so when a stored one differs. */
  private storeInitialSettings(): void {
    const stored = this.store.state.cluster?.placementStrategy ?? '';
    const given = this.options.placementStrategy;
    if (stored !== '') {
      if (given !== undefined && given !== stored) {
        this.options.log.warn(
          { stored, flag: given },
          'the cluster\'s stored default placement strategy stays in force; --placement-strategy only sets it for a new cluster (change it with pisched cluster update --placement-strategy)',
        );
      }
      return;
    }
    this.store.update((state) => seedPlacementStrategy(state, this.initialStrategy, systemClock.now())).then(
      () => this.options.log.info({ strategy: this.store.state.cluster?.placementStrategy }, 'default placement strategy stored'),
      // Until it is stored the flag's value applies anyway; the next leader tries again.
      (error: Error) => this.options.log.warn({ err: error.message }, 'could not store the default placement strategy'),
    );
  }

  private stopLeading(): void {
    if (!this.leading) return;
    this.leading = false;
    this.loop.stop();
    this.dispatcher.stop();
  }
}
