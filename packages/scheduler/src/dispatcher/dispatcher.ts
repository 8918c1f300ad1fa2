import * as grpc from '@grpc/grpc-js';
import {
  LEADER_METADATA,
  encodeMessage,
  sameThermalReading,
  stateRank,
  thermalPressure,
  type AgentMessage__Output,
  type Command,
  type DispatcherHandlers,
  type DispatcherMessage,
  type LogReply,
  type ImageFetchProgressInput,
  type NodeImage,
  nodeRunsPlatform,
  formatPlatform,
  type Node,
  type NodeDescription,
  type NodeThermal,
  type StoreAction,
  type Task,
  type TaskStatus,
} from '@pisched/api';
import type { Logger } from 'pino';
import { stamp, stageTraceOn } from '@pisched/raft';
import type { Store } from '../store/store';
import { putTask, type Clock } from '../orchestrator/task-factory';
import type { StateMachine } from '../store/state-machine';
import { filesForTasks } from './task-files';
import { meshDelta, meshPrints, meshTable, type MeshSent } from './mesh-table';
import { inTurns } from './in-turns';
import { RegistrationTurns } from './registration-turns';
import { AssignmentIndex } from './assignment-index';
import { SentAssignments } from './sent-assignments';
import { gatherNodeWrites, type NodeWrite } from './node-write-batch';
import { GatheredWrites } from '../store/gathered-writes';
import { revocationFingerprint, revocationsOf } from '../security/revocation';
import { isIP } from 'node:net';
import { ImageSourceChooser, holdersByReference, imageServer, serviceImages } from './image-sources';
import { ImagePush } from './image-push';
import { nodeFacts } from '../placement/constraints';
import { LastHeard } from './last-heard';

/** How long an image push waits for some node to report the image when none has yet (it was never watched). */
const PUSH_DISCOVERY_MS = 5_000;
/** Transfers one node serves at once for an image push (the agents' --image-max-transfers is the hard limit). */
const PUSH_PER_SOURCE = 2;

/** A push refused before anything moved: the message is for the person who asked. */
export class ImagePushRefused extends Error {}

const NODE_ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;
// Status reports, and node writes, are gathered this long and written in one command.
const STATUS_FLUSH_MS = 25;
/** Assignment sets encoded per turn of the event loop (see inTurns). */
const PUSHES_PER_TURN = 50;
// After the dispatcher starts, agents need time to notice and reconnect (their
// reconnect backoff reaches 5 s); until then silence is not a node failure.
const STARTUP_GRACE_MS = 10_000;
// While agents keep coming back, one not back yet is most likely still on its
// way (hundreds reconnect over several seconds on a busy leader): the startup
// grace runs from the latest arrival, but never past this long after the start.
const RETURN_WINDOW_CAP_MS = 60_000;
// How long a member that knows no leader holds a registration (an election takes a second or two).
const ELECTION_HOLD_MS = 5_000;
/**
 * Registrations answered per turn of the event loop (see RegistrationTurns):
 * opening a session on a loaded 2-core machine took about 1.5 ms, so a turn
 * stays well under Raft's 50 ms tick.
 */
const REGISTRATIONS_PER_TURN = 20;

/** The scheduler's own defaults; a stored Cluster object overrides them cluster-wide. */
export interface DispatcherOptions {
  heartbeatPeriodMs: number;
  /** Missed periods before a node is marked down. */
  heartbeatGrace: number;
  /** Told of each node marked down for missed heartbeats (metrics). */
  onHeartbeatFailure?: (nodeId: string) => void;
  /** In a cluster: why this member refuses agent sessions now (not the leader), or undefined to accept. */
  refuse?: () => string | undefined;
  /** In a cluster: where the leader is, sent with a refusal so the agent goes straight there. */
  leaderAddress?: () => string | undefined;
  /** In a cluster: this member won the election and is confirming it (refuse still says not the leader, for a moment). */
  electedHere?: () => boolean;
  /**
   * Whether the caller may hold the session of nodeId (the daemon: a worker
   * certificate naming that node, not revoked); the error to end the session
   * with if not. Asked again of open sessions whenever revocations change.
   */
  authorizeSession?: (call: SessionCall, nodeId: string) => grpc.ServiceError | undefined;
  /** When the credentials a session was opened with expire (wall-clock ms); the session is ended then. */
  sessionExpiry?: (call: SessionCall) => number | undefined;
  /** How long status reports are gathered into one write (STATUS_FLUSH_MS); a test lengthens it to tell a write made at once from a gathered one. */
  statusGatherMs?: number;
  /** What a report means beyond itself, by the rules of the roles that own them; without them every report is gathered and written alone. */
  reportRules?: StatusReportRules;
}

/**
 * What a task's status report means to the other roles, given to the
 * dispatcher where the roles are wired (scheduler-server.ts, from the rules
 * the updater and the orchestrator apply themselves), so that the dispatcher
 * keeps to sessions and status and imports neither role's rules.
 */
export interface StatusReportRules {
  /** Some role's next step waits on this report: it is written at once, not gathered. */
  awaited(before: Task, after: Task, state: StateMachine): boolean;
  /** A task the command recording the report writes too (`reported` carries the new status), if any. */
  alsoWrites(state: StateMachine, reported: Task, now: number): Task | undefined;
}

export interface HeartbeatSettings {
  periodMs: number;
  grace: number;
}

export type SessionCall = grpc.ServerDuplexStream<AgentMessage__Output, DispatcherMessage>;
type Register = NonNullable<AgentMessage__Output['register']>;

interface Session {
  id: string;
  nodeId: string;
  call: SessionCall;
  /** The node's assignment set as this session was last sent it, and what it is sent next. */
  sent: SentAssignments;
  /** The routing mesh's table as this session was last sent it; undefined until the first (full) one. */
  mesh?: MeshSent;
  /** The image references this session was last asked to report on. */
  watched?: string;
  expiresAt?: number;
}

/**
 * The agents' side of the scheduler, as SwarmKit's dispatcher: it registers
 * nodes, watches their heartbeats (a node silent for the grace is marked
 * down), streams each node its assignment set whenever it changes (whole,
 * or its changes to an agent that merges them: see SentAssignments),
 * and writes the task status the agents report, forward moves only.
 */
export class Dispatcher {
  private readonly sessions = new Map<string, Session>();
  private readonly lastHeard = new LastHeard();
  private readonly pendingStatus = new Map<string, { nodeId: string; status: TaskStatus }>();
  private flushTimer?: NodeJS.Timeout;
  /** A status write waits in the store's queue and takes what is pending when it is built. */
  private statusQueued = false;
  /** Between start() and stop(): only a leading dispatcher writes status. */
  private leading = false;
  private heartbeatTimer?: NodeJS.Timeout;
  private pushScheduled = false;
  private startedAt = 0;
  /** When the latest agent registered since this dispatcher started (see RETURN_WINDOW_CAP_MS). */
  private lastArrival = 0;
  private sessionCounter = 0;
  private announcedPeriodMs = 0;
  /** The version of the security object (revocations) open sessions were last authorized against. */
  private authorizedSecurityVersion?: number;
  /** The revocations open sessions were last authorized against (see revocationFingerprint). */
  private authorizedRevocations = '';
  /** Each node's tasks, followed command by command. */
  private readonly index = new AssignmentIndex();
  private readonly nodeWrites: GatheredWrites<NodeWrite>;
  /** Nodes whose tasks changed since the last push; every node when `allTouched`. */
  private readonly touched = new Set<string>();
  private allTouched = true;
  /** The mesh table last pushed, and its fingerprints: what sessions sent it share (see meshPrints). */
  private meshTableSeen?: ReturnType<typeof meshTable>;
  private meshPrinted?: MeshSent;
  /** A service was written since the image watch list was last sent: only then can the list differ. */
  private servicesChanged = true;
  private readonly onChange = (command?: Command) => {
    this.imageHolders = undefined;
    if (command) {
      if (stageTraceOn) stampTaskWrites(command);
      this.index.apply(command, this.touched);
      if (command.actions.some((a) => a.action === 'putService' || a.action === 'removeService')) this.servicesChanged = true;
      for (const action of command.actions) if (action.action === 'putNode' && action.putNode) this.lastHeard.expect(action.putNode.id);
    } else {
      this.servicesChanged = true;
      this.index.rebuild(this.store.state);
      this.allTouched = true;
      for (const nodeId of this.store.state.nodes.keys()) this.lastHeard.expect(nodeId);
    }
    this.schedulePush();
  };
  /** Who waits for the log reply of each request id sent on a session. */
  private readonly logWaiters = new Map<string, { nodeId: string; follow: boolean; deliver: (reply: LogReply) => void }>();
  private readonly imageSources = new ImageSourceChooser(() => this.clock.now());
  /** Images being pushed, watched too though no service names them (yet). */
  private readonly pushedImages = new Set<string>();
  private readonly pushes = new Set<ImagePush>();
  private readonly registrations = new RegistrationTurns(REGISTRATIONS_PER_TURN, ELECTION_HOLD_MS, () => this.holdsRegistrations());
  /** Which nodes serve which image, as of the last store change; rebuilt on demand. */
  private imageHolders?: Map<string, Node[]>;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly options: DispatcherOptions,
    private readonly log: Logger,
  ) {
    this.nodeWrites = new GatheredWrites(store, STATUS_FLUSH_MS, (state) => gatherNodeWrites(state, clock.now()), 'node');
  }

  start(): void {
    // Every node gets a fresh grace from now: silence while no dispatcher ran is not the node's fault.
    // That includes heartbeats seen in an earlier term of leadership, which say nothing about now.
    this.leading = true;
    this.startedAt = this.clock.now();
    this.lastArrival = 0;
    this.lastHeard.restart(this.store.state.nodes.keys());
    this.announcedPeriodMs = this.heartbeat().periodMs;
    this.authorizedSecurityVersion = this.store.state.security?.meta?.version;
    this.authorizedRevocations = revocationFingerprint(this.store.state.security);
    this.index.rebuild(this.store.state);
    this.allTouched = true;
    this.servicesChanged = true;
    this.store.on('change', this.onChange);
    // Checked often so detection does not lag by a whole period, whatever the period. Judged in the
    // check phase, after the poll phase has read the sockets: timers run first in a turn, so a check
    // due while this leader's own loop was held (a push, a GC) saw heartbeats that had come meanwhile
    // still unread, and marked their nodes down (issue #17).
    this.heartbeatTimer = setInterval(() => {
      setImmediate(() => {
        if (!this.leading) return;
        this.checkHeartbeats();
        this.endExpiredSessions();
      });
    }, 100);
  }

  /** The heartbeat settings in force: the cluster's stored ones, else this scheduler's defaults. */
  /** Agent sessions open now. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  heartbeat(): HeartbeatSettings {
    const cluster = this.store.state.cluster;
    return {
      periodMs: cluster?.heartbeatPeriodMs || this.options.heartbeatPeriodMs,
      grace: cluster?.heartbeatGrace || this.options.heartbeatGrace,
    };
  }

  /** Milliseconds since each node's last heartbeat, as this dispatcher saw them. */
  heartbeatAges(): Record<string, number> {
    const now = this.clock.now();
    return this.lastHeard.ages(now);
  }

  /**
   * Asks a node's agent, over its session, for the output of some of its
   * tasks' containers; deliver gets the reply. False when the node holds no
   * session here (down, or connected to another member).
   */
  requestLogs(nodeId: string, request: { requestId: string; taskIds: string[]; tail: number; follow?: boolean }, deliver: (reply: LogReply) => void): boolean {
    const session = this.sessions.get(nodeId);
    if (!session) return false;
    this.logWaiters.set(request.requestId, { nodeId, follow: request.follow === true, deliver });
    session.call.write({ logRequest: request });
    return true;
  }

  /** Forgets a log request that was answered or given up on; a followed one is stopped on its agent too. */
  cancelLogs(requestId: string): void {
    const waiter = this.logWaiters.get(requestId);
    this.logWaiters.delete(requestId);
    if (waiter?.follow) this.sessions.get(waiter.nodeId)?.call.write({ logCancel: { requestId } });
  }

  /** Ends the log requests of a session that is gone: nothing more can come over it. */
  private abandonLogs(nodeId: string | undefined, message: string): void {
    for (const [requestId, waiter] of this.logWaiters) {
      if (nodeId !== undefined && waiter.nodeId !== nodeId) continue;
      this.logWaiters.delete(requestId);
      waiter.deliver({ requestId, entries: [], notes: [{ taskId: '', message }], done: true });
    }
  }

  stop(): void {
    this.abandonLogs(undefined, 'this scheduler stopped leading; no more lines from this node');
    this.store.off('change', this.onChange);
    for (const push of this.pushes) push.cancel();
    this.pushes.clear();
    clearInterval(this.heartbeatTimer);
    this.leading = false;
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    // The agents report again to whichever member leads next; what is queued here has no one to write it.
    this.pendingStatus.clear();
    this.nodeWrites.abandon('this scheduler stopped leading');
    for (const session of this.sessions.values()) session.call.end();
    this.sessions.clear();
  }

  handlers(): DispatcherHandlers {
    return { Session: (call: SessionCall) => this.accept(call) };
  }

  private accept(call: SessionCall): void {
    let session: Session | undefined;
    let admitting = false;
    const close = () => {
      if (session && this.sessions.get(session.nodeId) === session) {
        this.sessions.delete(session.nodeId);
        this.abandonLogs(session.nodeId, 'its session ended; no more lines from this node');
        for (const push of this.pushes) push.nodeLost(session.nodeId);
        this.log.info({ node: session.nodeId }, 'agent session closed');
      }
    };
    call.on('data', (message: AgentMessage__Output) => {
      if (!session) {
        // Nothing but the registration comes before accepted: the agent waits for it.
        if (admitting) return;
        if (message.msg !== 'register' || !message.register) {
          call.destroy(grpcError(grpc.status.FAILED_PRECONDITION, 'the first message of a session must be register'));
          return;
        }
        admitting = true;
        const register = message.register;
        this.registrations.add(() => {
          if (!call.cancelled) session = this.admit(call, register);
        });
        return;
      }
      this.lastHeard.heardFrom(session.nodeId, this.clock.now());
      if (message.msg === 'status' && message.status) {
        for (const update of message.status.updates) {
          if (update.status) this.queueStatus(session.nodeId, update.taskId, update.status);
        }
      } else if (message.msg === 'logReply' && message.logReply) {
        const waiter = this.logWaiters.get(message.logReply.requestId);
        // Only the node that was asked may answer: a reply is the node's word on its own containers.
        if (waiter && waiter.nodeId === session.nodeId) {
          // A followed request gets replies until its last, marked done.
          if (!waiter.follow || message.logReply.done) this.logWaiters.delete(message.logReply.requestId);
          waiter.deliver(message.logReply);
        }
      } else if (message.msg === 'resyncAssignments') {
        // The agent holds no set the changes it was sent apply to: the next push is whole, and comes at once.
        this.log.warn({ node: session.nodeId, holding: message.resyncAssignments?.holding }, 'agent asked for its complete assignment set');
        session.sent.forget();
        this.touched.add(session.nodeId);
        this.schedulePush();
      } else if (message.msg === 'images' && message.images) {
        this.recordImages(session.nodeId, message.images.images ?? []);
      } else if (message.msg === 'imageProgress' && message.imageProgress) {
        for (const push of this.pushes) if (push.progress(session.nodeId, message.imageProgress)) break;
      } else if (message.msg === 'heartbeat') {
        this.markReadyIfDown(session.nodeId);
        if (message.heartbeat?.thermal) this.recordThermal(session.nodeId, message.heartbeat.thermal);
      }
    });
    call.on('end', () => {
      close();
      call.end();
    });
    call.on('error', close);
    call.on('cancelled', close);
  }

  /**
   * During an election no member knows the leader: a registration arriving
   * then is held here for a moment rather than refused into the agent's
   * backoff, and answered as soon as there is a leader (accepted here, or
   * sent to it), so agents are back seconds sooner after a leader dies.
   * The same on the member just elected, until it has confirmed its
   * leadership and leads: refused then, the agent would be told to go
   * where it already is, and back off instead, as would the agents the
   * other members are sending here meanwhile.
   */
  private holdsRegistrations(): boolean {
    return this.options.refuse?.() !== undefined && (!this.options.leaderAddress?.() || this.options.electedHere?.() === true);
  }

  /** The session of a registration, or undefined when it was refused (the call is ended then). */
  private admit(call: SessionCall, register: Register): Session | undefined {
    // A member that is not the leader must not hold sessions: refusing with the
    // leader's address makes the agent move on through its address list.
    const refusal = this.options.refuse?.();
    if (refusal) {
      const error = grpcError(grpc.status.UNAVAILABLE, refusal);
      // The agent's list may not name the leader at all (a member that joined later).
      const leader = this.options.leaderAddress?.();
      if (leader) error.metadata.set(LEADER_METADATA, leader);
      endWithError(call, error);
      return undefined;
    }
    const { nodeId, description, advertiseAddr, imagePort, preparesTasks } = register;
    if (!NODE_ID_PATTERN.test(nodeId)) {
      call.destroy(grpcError(grpc.status.INVALID_ARGUMENT, `invalid node id "${nodeId}"`));
      return undefined;
    }
    const address = advertiseAddr || peerHost(call.getPeer());
    if (!isIP(address)) {
      endWithError(call, grpcError(grpc.status.INVALID_ARGUMENT, `invalid advertise address "${address}": must be an IP address`));
      return undefined;
    }
    const denied = this.options.authorizeSession?.(call, nodeId);
    if (denied) {
      this.log.warn({ node: nodeId, reason: denied.details }, 'refused an agent session');
      endWithError(call, denied);
      return undefined;
    }
    const session: Session = {
      id: `${nodeId}-${++this.sessionCounter}`,
      nodeId,
      call,
      expiresAt: this.options.sessionExpiry?.(call),
      sent: new SentAssignments(register.incrementalAssignments === true, register.statusChanges === true, register.held),
    };
    this.lastArrival = this.clock.now();
    this.register(call, nodeId, description, address, imagePort, preparesTasks).then(
      () => this.open(session),
      (error: Error) => endWithError(call, error instanceof RegistrationDenied ? error.status : grpcError(grpc.status.UNAVAILABLE, `cannot register node: ${error.message}`)),
    );
    return session;
  }

  private open(session: Session): void {
    const previous = this.sessions.get(session.nodeId);
    if (previous && previous !== session) {
      previous.call.end();
      // The agent started over: what it was asked on the old session will not be answered.
      this.abandonLogs(session.nodeId, 'its session ended; no more lines from this node');
    }
    this.sessions.set(session.nodeId, session);
    this.lastHeard.heardFrom(session.nodeId, this.clock.now());
    const nodeAddress = this.store.state.nodes.get(session.nodeId)?.address ?? '';
    session.call.write({
      accepted: { sessionId: session.id, heartbeatPeriodMs: this.heartbeat().periodMs, nodeAddress },
    });
    // Always, none included: an agent serves nothing to other nodes until it has heard them.
    session.call.write({ revocations: revocationsOf(this.store.state.security) });
    this.log.info({ node: session.nodeId, session: session.id, address: nodeAddress }, 'agent session opened');
    this.pushImageWatch(session);
    this.pushAssignments(session);
    this.pushMesh(session, meshTable(this.store.state));
  }

  private register(call: SessionCall, nodeId: string, description: NodeDescription | null, address: string, imagePort: number, preparesTasks: boolean): Promise<unknown> {
    const known = this.store.state.nodes.get(nodeId);
    // A ready node back with what is stored (every agent after a leader change) needs no write.
    if (known?.state === 'READY' && known.address === address && known.imagePort === imagePort && known.preparesTasks === preparesTasks && sameDescription(known.description, description)) return Promise.resolve();
    const now = this.clock.now();
    const change = (existing: Node | undefined): Node => {
      // Asked again against the state this write is built from: a node removed (and revoked) while
      // its registration waited must not be put back.
      const denied = this.options.authorizeSession?.(call, nodeId);
      if (denied) throw new RegistrationDenied(denied);
      return {
        id: nodeId,
        meta: existing?.meta ?? { version: 0, createdAt: now, updatedAt: now },
        description,
        state: 'READY',
        availability: existing?.availability ?? 'ACTIVE',
        message: '',
        labels: existing?.labels ?? {},
        address,
        thermal: existing?.thermal ?? null,
        imagePort,
        images: existing?.images ?? [],
        preparesTasks,
      };
    };
    return this.nodeWrites.write({ nodeId, change });
  }

  /**
   * Stores a node's new heat reading (agents send one only when it changed).
   * The leader keeps when throttling began, since agents' clocks are not ours.
   */
  private recordThermal(nodeId: string, reading: NodeThermal): void {
    if (sameThermalReading(this.store.state.nodes.get(nodeId)?.thermal, reading)) return;
    const now = this.clock.now();
    const change = (current: Node | undefined): Node | undefined => {
      if (!current || sameThermalReading(current.thermal, reading)) return undefined;
      const throttling = thermalPressure(reading) === 2;
      const since = Number(current.thermal?.throttledSince ?? 0);
      return { ...current, thermal: { ...reading, throttledSince: throttling ? since || now : 0 } };
    };
    this.nodeWrites
      .write({ nodeId, change })
      .catch((error: Error) => this.log.warn({ node: nodeId, err: error.message }, 'cannot store the node\'s heat'));
  }

  /** Stores which watched images a node holds (agents send it only when it changed). */
  private recordImages(nodeId: string, images: NodeImage[]): void {
    const same = (current: NodeImage[] | undefined) => JSON.stringify(current ?? []) === JSON.stringify(images);
    if (same(this.store.state.nodes.get(nodeId)?.images)) return;
    this.nodeWrites
      .write({ nodeId, change: (current) => (!current || same(current.images) ? undefined : { ...current, images }) })
      .catch((error: Error) => this.log.warn({ node: nodeId, err: error.message }, 'cannot store the node\'s images'));
  }

  /**
   * Copies an image to nodes that lack it (those named, or every ready node
   * that can run it), node to node. deliver gets every progress line; end is
   * called once every node has had its last. Rejects with ImagePushRefused
   * before anything moves when the image or a node is unknown.
   */
  async pushImage(reference: string, nodeIds: string[], deliver: (progress: ImageFetchProgressInput) => void, end: () => void): Promise<() => void> {
    const holdersOf = () => [...this.store.state.nodes.values()].filter((node) => imageServer(node) && node.images?.some((image) => image.reference === reference));
    for (const nodeId of nodeIds) if (!this.store.state.nodes.has(nodeId)) throw new ImagePushRefused(`node ${nodeId} not found`);
    let holders = holdersOf();
    if (holders.length === 0 && !this.pushedImages.has(reference)) {
      // No service names it, so no agent has looked for it: ask them all, and give them a moment.
      this.pushedImages.add(reference);
      const watched = serviceImages(this.store.state.services.values(), this.pushedImages);
      for (const session of this.sessions.values()) this.pushImageWatch(session, watched);
      const until = this.clock.now() + PUSH_DISCOVERY_MS;
      while (holders.length === 0 && this.clock.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        holders = holdersOf();
      }
    }
    if (holders.length === 0) throw new ImagePushRefused(`no node holds image ${reference} (build or load it on one node first)`);
    const chosen = this.imageSources.choose(holders, '', reference)!;
    const sample = holders.flatMap((node) => node.images ?? []).find((image) => image.imageId === chosen.imageId)!;
    const platform = sample.platform ?? { os: '', architecture: '' };
    const holding = new Set(holders.filter((node) => node.images!.some((image) => image.imageId === chosen.imageId)).map((node) => node.id));
    // Named nodes are asked even if the store says they hold it: their agent knows better, and answers "present".
    const targets = nodeIds.length > 0
      ? [...new Set(nodeIds)]
      : [...this.store.state.nodes.values()]
          .filter((node) => node.state === 'READY' && !holding.has(node.id) && nodeRunsPlatform(nodeFacts(node), platform))
          .map((node) => node.id)
          .sort();
    for (const nodeId of targets) holding.delete(nodeId);
    if (targets.length === 0 || holding.size === 0) {
      if (holding.size === 0) throw new ImagePushRefused(`no node other than ${targets.join(', ')} holds image ${reference}`);
      end();
      return () => undefined;
    }
    this.log.info({ image: reference, imageId: chosen.imageId, platform: formatPlatform(platform), targets, sources: [...holding] }, 'pushing an image');
    const holderAddresses = new Map<string, string>(holders.filter((node) => holding.has(node.id)).map((node) => [node.id, imageServer(node)!]));
    const push: ImagePush = new ImagePush({
      reference,
      imageId: chosen.imageId!,
      holders: holderAddresses,
      targets,
      perSource: PUSH_PER_SOURCE,
      addressOf: (nodeId) => {
        const node = this.store.state.nodes.get(nodeId);
        return node && imageServer(node);
      },
      send: (nodeId, fetch) => {
        const session = this.sessions.get(nodeId);
        if (!session) return false;
        session.call.write({ imageFetch: fetch });
        return true;
      },
      deliver,
      newId: () => this.clock.newId(),
      finished: () => {
        this.pushes.delete(push);
        end();
      },
    });
    this.pushes.add(push);
    push.start();
    return () => {
      push.cancel();
      this.pushes.delete(push);
    };
  }

  private pushImageWatch(session: Session, references = serviceImages(this.store.state.services.values(), this.pushedImages)): void {
    const fingerprint = references.join('\n');
    if (fingerprint === session.watched) return;
    session.watched = fingerprint;
    session.call.write({ imageWatch: { references } });
  }

  private markReadyIfDown(nodeId: string): void {
    const node = this.store.state.nodes.get(nodeId);
    if (!node || node.state === 'READY') return;
    this.nodeWrites
      .write({ nodeId, change: (current) => (!current || current.state === 'READY' ? undefined : { ...current, state: 'READY', message: '' }) })
      .catch((error: Error) => this.log.warn({ node: nodeId, err: error.message }, 'cannot mark node ready'));
  }

  /** A node that did not renew in time loses its session with its certificate, and cannot open another. */
  private endExpiredSessions(): void {
    // Certificates run on wall-clock time, whatever clock the rest of the dispatcher is given.
    const now = Date.now();
    for (const session of this.sessions.values()) {
      if (session.expiresAt === undefined || session.expiresAt > now) continue;
      this.log.warn({ node: session.nodeId, session: session.id }, 'the certificate this session was opened with expired; ending the session');
      endWithError(session.call, grpcError(grpc.status.UNAUTHENTICATED, 'the certificate this session was opened with has expired: renew it, or join again with a token'));
    }
  }

  private checkHeartbeats(): void {
    const now = this.clock.now();
    const { periodMs, grace } = this.heartbeat();
    const limit = periodMs * grace;
    // Every node gets the longer startup grace, counted from the latest agent to come back while
    // they keep coming: one already back too, since while hundreds reconnect (a TLS handshake
    // each) its heartbeats wait behind theirs, here or in its own process. A 1,000-agent run
    // marked nodes down 3 s after they came back, and replaced 700 tasks.
    const unheard = Math.max(this.startedAt + STARTUP_GRACE_MS, Math.min(this.lastArrival, this.startedAt + RETURN_WINDOW_CAP_MS));
    const nodes = this.store.state.nodes;
    const late = this.lastHeard
      .silent(now, limit, unheard, (nodeId) => nodes.has(nodeId))
      .map((nodeId) => nodes.get(nodeId)!)
      .filter((node) => node.state === 'READY');
    if (late.length === 0) return;
    this.store
      .update((state) =>
        late.flatMap((stale) => {
          const node = state.nodes.get(stale.id);
          if (!node || node.state !== 'READY') return [];
          this.log.warn({ node: node.id }, 'node missed its heartbeats; marking it down');
          this.options.onHeartbeatFailure?.(node.id);
          return [
            {
              action: 'putNode' as const,
              putNode: { ...node, state: 'DOWN' as const, message: 'heartbeat failure', meta: { ...node.meta!, updatedAt: now } },
            },
          ];
        }),
      )
      .catch((error: Error) => this.log.warn({ err: error.message }, 'cannot mark nodes down'));
  }

  private queueStatus(nodeId: string, taskId: string, status: TaskStatus): void {
    if (stageTraceOn) stamp(taskId, `report-in-${status.state}`);
    this.pendingStatus.set(taskId, { nodeId, status });
    if (this.statusQueued) return;
    const task = this.store.state.tasks.get(taskId);
    if (task && task.nodeId === nodeId && this.options.reportRules?.awaited(task, { ...task, status }, this.store.state)) {
      // A step waits on this one report (a slot of an update): gathering more for 25 ms only delays it.
      // The next turn, so the rest of the agent's message joins the write.
      clearTimeout(this.flushTimer);
      this.flushTimer = setTimeout(() => this.flushStatus(), 0);
      return;
    }
    this.gatherStatus();
  }

  /** A status write after the reports have been gathered a while, unless one is due already. */
  private gatherStatus(): void {
    this.flushTimer ??= setTimeout(() => this.flushStatus(), this.options.statusGatherMs ?? STATUS_FLUSH_MS);
  }

  /**
   * One status write at a time waits for the store: it takes the reports
   * pending when the store gets round to building it, not when it was asked
   * for. Taken at the ask, a burst's reports (four per task) queued a write
   * every 25 ms behind the others, each its own Raft entry, one commit after another.
   */
  private flushStatus(): void {
    this.flushTimer = undefined;
    this.statusQueued = true;
    let batch: Map<string, { nodeId: string; status: TaskStatus }> | undefined;
    this.store
      .update((state) => {
        this.statusQueued = false;
        batch = new Map(this.pendingStatus);
        this.pendingStatus.clear();
        const puts: StoreAction[] = [];
        for (const [taskId, { nodeId, status }] of batch) {
          const task = state.tasks.get(taskId);
          if (!task || task.nodeId !== nodeId || !isNews(task, status)) continue;
          const startedAt = task.startedAt || (status.state === 'RUNNING' ? status.timestamp : 0);
          puts.push({ action: 'putTaskStatus' as const, putTaskStatus: { taskId, version: task.meta!.version, status, startedAt } });
          // E.g. the old task of a stop-first slot has stopped: its prepared successor may start, told in this very command.
          // Not when that task's own report is in it too: two writes of one task in a command conflict (the round clears the mark).
          const raised = this.options.reportRules?.alsoWrites(state, { ...task, status }, this.clock.now());
          if (raised && !batch.has(raised.id)) puts.push(putTask(raised));
        }
        return puts;
      }, 'status')
      .then(
        () => {
          // Reports that came while this write was committing wait for a write of their own.
          if (this.leading && this.pendingStatus.size > 0 && !this.statusQueued) this.gatherStatus();
        },
        (error: Error) => {
          // Never built (this member cannot write): what was pending is this write's batch.
          if (!batch) {
            this.statusQueued = false;
            batch = new Map(this.pendingStatus);
            this.pendingStatus.clear();
          }
          // Stopped meanwhile (leadership lost): retrying every 25 ms could only fail, and flood the log, until this member leads again.
          if (!this.leading) return;
          this.log.warn({ err: error.message }, 'task status not written; will retry');
          for (const [taskId, update] of batch) if (!this.pendingStatus.has(taskId)) this.pendingStatus.set(taskId, update);
          this.gatherStatus();
        },
      );
  }

  private schedulePush(): void {
    if (this.pushScheduled) return;
    this.pushScheduled = true;
    setImmediate(() => {
      this.reauthorizeSessions();
      const { periodMs } = this.heartbeat();
      const periodChanged = periodMs !== this.announcedPeriodMs;
      this.announcedPeriodMs = periodMs;
      const everyone = this.allTouched || periodChanged;
      const touched = new Set(this.touched);
      this.allTouched = false;
      this.touched.clear();
      const due: Session[] = [];
      for (const session of this.sessions.values()) {
        // Agents take the heartbeat period from accepted; a new period is announced the same way.
        if (periodChanged) {
          const nodeAddress = this.store.state.nodes.get(session.nodeId)?.address ?? '';
          session.call.write({ accepted: { sessionId: session.id, heartbeatPeriodMs: periodMs, nodeAddress } });
          // The agent treats accepted as a fresh session start and waits for a complete assignment set.
          session.sent.forget();
        }
        // A node none of whose tasks changed has its set already: the cost of a push follows the change, not the cluster.
        if (everyone || touched.has(session.nodeId)) due.push(session);
      }
      // Each set is made from the state as it is at its turn; a session gone meanwhile gets none.
      const push = (session: Session) => {
        if (this.sessions.get(session.nodeId) === session) this.pushAssignments(session);
      };
      inTurns(due, PUSHES_PER_TURN, push, () => {
        // Changes applied during the turns wait in `touched` for the next push.
        this.pushScheduled = false;
        // Endpoints go out with the assignments that stop their tasks: a task leaves every
        // node's rotation while its agent still waits out the drain before stopping it.
        // The list is a pass over every service: a leader answering each service creation with one
        // was a few per cent of its CPU, for agents whose list had not changed or for no agent at all
        // (a session that opens later is sent a list of its own).
        if (this.servicesChanged && this.sessions.size > 0) {
          const watched = serviceImages(this.store.state.services.values(), this.pushedImages);
          for (const session of this.sessions.values()) this.pushImageWatch(session, watched);
        }
        this.servicesChanged = false;
        if (this.sessions.size > 0) {
          const table = meshTable(this.store.state);
          for (const session of this.sessions.values()) this.pushMesh(session, table);
        }
        // A node must not be marked down for keeping to the old, slower period.
        if (periodChanged) this.lastHeard.heardAll(this.clock.now());
        if (this.allTouched || this.touched.size > 0) this.schedulePush();
      });
    });
  }

  /** A revocation ends the sessions of the certificates it names at once, not at their next reconnect. */
  private reauthorizeSessions(): void {
    const security = this.store.state.security;
    const version = security?.meta?.version;
    if (version === this.authorizedSecurityVersion) return;
    this.authorizedSecurityVersion = version;
    // Every join records a certificate in the security object too, but changes no verdict: asking
    // every open session again at each join (a certificate parse each) made N joins cost N².
    const revocations = revocationFingerprint(security);
    if (revocations === this.authorizedRevocations) return;
    this.authorizedRevocations = revocations;
    for (const session of [...this.sessions.values()]) {
      const denied = this.options.authorizeSession?.(session.call, session.nodeId);
      if (!denied) continue;
      this.sessions.delete(session.nodeId);
      this.abandonLogs(session.nodeId, 'its session ended; no more lines from this node');
      this.log.warn({ node: session.nodeId, reason: denied.details }, 'closed an agent session');
      endWithError(session.call, denied);
    }
    // Agents refuse revoked certificates in what they serve each other (images) from this list.
    const list = revocationsOf(security);
    for (const session of this.sessions.values()) session.call.write({ revocations: list });
  }

  private pushMesh(session: Session, table: ReturnType<typeof meshTable>): void {
    // The same table for every session of a push: its fingerprints are made once (see meshPrints).
    if (this.meshTableSeen !== table) {
      this.meshTableSeen = table;
      this.meshPrinted = meshPrints(table, this.meshPrinted);
    }
    const { update, sent } = meshDelta(table, session.mesh, this.meshPrinted);
    session.mesh = sent;
    if (update) session.call.write({ mesh: update });
  }

  private pushAssignments(session: Session): void {
    // A global task is bound to its node before placement has found room for it there: not the agent's yet.
    // A task to prepare only is held back from an agent that did not say it knows the mark: it would start it
    // beside the task it replaces. It goes out once the orchestrator clears the mark, to be started as usual.
    const prepares = this.store.state.nodes.get(session.nodeId)?.preparesTasks ?? false;
    const tasks = this.index
      .tasksOf(session.nodeId, this.store.state)
      .filter((task) => stateRank(task.status!.state) >= stateRank('ASSIGNED') && (prepares || !task.prepareOnly));
    if (!session.sent.differs(tasks)) return;
    const { secrets, configs, missing } = filesForTasks(this.store.state, tasks);
    // Names only: a value is never logged.
    if (missing.length > 0) this.log.warn({ node: session.nodeId, missing }, 'assignments name secrets or configs that cannot be given; those tasks will fail on the node');
    this.imageHolders ??= holdersByReference(this.store.state.nodes.values());
    const imageSources = this.imageSources.forTasks(this.store.state.nodes, session.nodeId, tasks.filter((task) => task.desiredState === 'RUNNING'), this.imageHolders);
    session.call.write(session.sent.next({ tasks, secrets, configs, imageSources }) as DispatcherMessage);
    if (stageTraceOn) for (const task of tasks) stamp(task.id, 'pushed');
  }
}

/**
 * The stage stamps of a rolling update's slot (bench/update-trace.ts): each
 * task status applied here, and each task put whole, marked prepare-only or
 * not (the first unmarked put of a prepared task is its mark cleared).
 */
function stampTaskWrites(command: Command): void {
  for (const action of command.actions) {
    if (action.putTaskStatus) stamp(action.putTaskStatus.taskId, `applied-${action.putTaskStatus.status?.state}`);
    if (action.putTask) stamp(action.putTask.id, action.putTask.prepareOnly ? 'put-marked' : 'put-unmarked');
  }
}

/** Whether two node descriptions are the same, compared as the bytes they are stored as. */
function sameDescription(a: NodeDescription | null | undefined, b: NodeDescription | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return Buffer.from(encodeMessage('NodeDescription', a)).equals(encodeMessage('NodeDescription', b));
}

/** Only moves forward in Swarm's order count; a repeat of the same state is news only if it says more. */
function isNews(task: Task, status: TaskStatus): boolean {
  const current = task.status!;
  const diff = stateRank(status.state) - stateRank(current.state);
  if (diff !== 0) return diff > 0;
  // Health changes while the state stays RUNNING: the updater and the orchestrator act on them.
  return (
    status.containerId !== current.containerId ||
    status.err !== current.err ||
    status.health !== current.health ||
    JSON.stringify(status.ingressPorts ?? []) !== JSON.stringify(current.ingressPorts ?? [])
  );
}

/** The host of grpc-js's peer string ("127.0.0.1:5000", "[::1]:5000", "ipv4:…"). */
function peerHost(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, '');
  const bracketed = /^\[([^\]]+)\]:\d+$/.exec(bare);
  if (bracketed) return bracketed[1];
  const host = bare.replace(/:\d+$/, '');
  return host.replace(/^::ffff:/, '');
}

/**
 * Ends a session with a status the agent receives. destroy(error) does not do
 * that: the stream is gone before grpc-js can send the status, and the agent
 * waits for its registration timeout instead of moving on at once.
 */
function endWithError(call: SessionCall, error: grpc.ServiceError): void {
  call.emit('error', error);
}

/** A registration refused by the session's authorization, checked again as the node is written. */
class RegistrationDenied extends Error {
  constructor(readonly status: grpc.ServiceError) {
    super(status.details);
  }
}

function grpcError(code: grpc.status, details: string): grpc.ServiceError & { metadata: grpc.Metadata } {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}
