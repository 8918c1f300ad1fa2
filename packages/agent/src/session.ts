import * as grpc from '@grpc/grpc-js';
import {
  type ClusterChannel,
  LEADER_METADATA,
  agentGrpc,
  type AgentMessage,
  type DispatcherClient,
  type DispatcherMessage__Output,
  type LogReplyInput,
  type LogRequest,
  type FileData,
  type ImageFetch,
  type Revocations,
  type ImageFetchProgressInput,
  type NodeImageInput,
  type MeshUpdate,
  type NodeThermal,
  type Task,
  sameThermalReading,
} from '@pisched/api';
import type { Logger } from 'pino';
import type { NodeDescriptionInput } from './node-description';
import { Backoff } from './backoff';
import type { StatusUpdate } from './status-reporter';
import { HeldAssignments, type AssignmentSet } from './held-assignments';
import { settleStartupHeap } from './startup-heap';

export interface SessionHandlers {
  /** The scheduler accepted the registration; its assignment set follows. nodeAddress: this node's address as stored. */
  onAccepted(sessionId: string, nodeAddress: string): void;
  /** The routing mesh's endpoint table (full) or a change to it. */
  onMesh?(update: MeshUpdate): void;
  /**
   * The node's complete set, whether the scheduler sent it whole or as changes to the set held.
   * files: the values of the secrets and configs these tasks use, and of no others.
   */
  onAssignments(tasks: Task[], files?: { secrets: FileData[]; configs: FileData[] }, imageSources?: ImageFetch[]): void;
  /** The image references services name: report which of them the engine holds (sendImages). */
  onImageWatch?(references: string[]): void;
  /** An image push: fetch this image from these sources, answering with sendImageProgress. */
  onImageFetch?(fetch: ImageFetch): void;
  /** The cluster's revoked certificates, at session start and on every change. */
  onRevocations?(revocations: Revocations): void;
  /** The scheduler asks for the output of some of this node's containers; answer with sendLogReply. */
  onLogRequest?(request: LogRequest): void;
  /** A followed log request is over: nobody reads it any more. */
  onLogCancel?(requestId: string): void;
  /** The session ended (error, scheduler gone); a new one is being sought. */
  onLost(): void;
}

export interface SessionOptions {
  nodeId: string;
  addresses: string[];
  /** Mutual TLS with this node's worker certificate (see @pisched/api's clusterChannel). */
  channel: ClusterChannel;
  description: () => NodeDescriptionInput;
  /** --advertise-addr; undefined lets the scheduler take the address the session comes from. */
  advertiseAddr?: string;
  handlers: SessionHandlers;
  log: Logger;
  /** How long a scheduler gets to accept a registration before the next address is tried. */
  acceptTimeoutMs?: number;
  /** The node's heat to report (see ThermalSensor); undefined where it has no sensors. */
  thermal?: () => NodeThermal | undefined;
  /** Where this agent serves images to other nodes (--image-port); 0 or undefined: none. */
  imagePort?: () => number;
  /** The mean time between two rounds of connecting to the other schedulers (see warmOthers). */
  warmAgainMs?: number;
}

/** A refused certificate stays refused until an operator acts: no point asking often. */
const REFUSED_RETRY_MS = 30_000;
/** A member that refused the session named the leader: the next attempt goes there after this. */
const REDIRECT_DELAY_MS = 20;
/**
 * A member that names as leader the scheduler whose session just ended has
 * not noticed yet that it is gone (it will within an election timeout): it
 * is asked again after this, rather than the dead one dialled and the agent
 * sent into backoff; for this long after the loss, after which its word is
 * taken (the old leader may well be alive, and the session lost otherwise).
 */
const STALE_LEADER_RETRY_MS = 250;
const STALE_LEADER_WINDOW_MS = 2_000;
/** How often, on average, an agent in session connects again to the schedulers it could not reach. */
const WARM_AGAIN_MS = 30_000;
/** The longest delay a Node timer takes (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

type Call = grpc.ClientDuplexStream<AgentMessage, DispatcherMessage__Output>;

/**
 * The agent's one long-lived Dispatcher.Session stream: register, heartbeat,
 * receive assignment sets, send status. Addresses are tried in turn and the
 * stream is re-opened with backoff whenever it fails, forever, until close().
 */
export class AgentSession {
  private client: DispatcherClient | undefined;
  /**
   * One client (one connection) per scheduler, kept across sessions: after a
   * leader dies, every agent moves to a follower and then to the new leader,
   * and a TLS handshake each at both was what kept 1,000 agents from their new
   * leader for 8 s and more. See warmOthers.
   */
  private readonly clients = new Map<string, DispatcherClient>();
  /** Kept clients whose connection is followed (see warm). */
  private readonly watched = new WeakSet<DispatcherClient>();
  /** Schedulers whose connection failed since the last warming round dialled them: left to the next round at a session's start (see warmOthers). */
  private readonly failing = new Set<string>();
  private warmTimer: NodeJS.Timeout | undefined;
  private call: Call | undefined;
  private accepted = false;
  /** Sessions the scheduler accepted since the agent started: every one after the first is a reconnect. */
  acceptedCount = 0;
  private heartbeat: NodeJS.Timeout | undefined;
  private acceptTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private addressIndex = 0;
  /** The leader a refusing member named: tried next, ahead of the list. */
  private redirect?: string;
  /** The scheduler whose accepted session ended last, and when. */
  private lost?: { address: string; at: number };
  /** The member refusing now named the scheduler just lost as leader: ask it again (see STALE_LEADER_RETRY_MS). */
  private askAgain = false;
  /**
   * The next attempt asks that member again: the leader it names then is
   * gone to at once, as a first refusal's is. Counted as a redirect, it sent
   * the agent into backoff (250 ms to seconds) after the leader kill, on its
   * way to the new leader the member had just named.
   */
  private askingAgain = false;
  private closed = false;
  private failingSince: string | undefined;
  /** The refusal last logged, so a refused agent says it once rather than at every retry. */
  private refusedFor: string | undefined;
  private readonly backoff = new Backoff();
  /** The scheduler the current session was opened with. */
  private currentAddress?: string;
  /** The heat reading this session last carried; heartbeats carry one only when it changes. */
  private sentThermal: NodeThermal | undefined;
  /** The assignment set this session holds, which the scheduler's changes apply to. */
  private readonly held = new HeldAssignments();
  /** A complete set was asked for (AssignmentsResync) and has not come yet: asked once, not at every change dropped meanwhile. */
  private resyncAsked = false;

  constructor(private readonly options: SessionOptions) {}

  get connected(): boolean {
    return this.accepted && this.call !== undefined;
  }

  /** The scheduler holding this node's session, while one is accepted. */
  get address(): string | undefined {
    return this.connected ? this.currentAddress : undefined;
  }

  start(): void {
    this.closed = false;
    this.open();
  }

  /**
   * Opens a new session at once on the same scheduler, on a new connection:
   * after a renewal, so that the session runs on the new certificate (an
   * established connection keeps the one it was made with). The node is
   * not reported lost: the next session's accepted and assignments follow
   * within a moment, and the worker re-sends its status then.
   */
  redial(): void {
    if (this.closed || !this.connected) return;
    this.redirect = this.currentAddress;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.teardown();
    // Every kept connection was made with the old certificate.
    this.dropClients();
    this.open();
  }

  /** Sends a status batch on the current session; false when there is none. */
  sendStatus(updates: StatusUpdate[]): boolean {
    return this.send({ status: { updates } });
  }

  /** Answers a log request on the current session; false when there is none (the scheduler has given up on it then). */
  sendLogReply(reply: LogReplyInput): boolean {
    return this.send({ logReply: reply });
  }

  /** Which watched images the engine holds; false when there is no session to tell. */
  sendImages(images: NodeImageInput[]): boolean {
    return this.send({ images: { images } });
  }

  sendImageProgress(progress: ImageFetchProgressInput): boolean {
    return this.send({ imageProgress: progress });
  }

  private send(message: AgentMessage): boolean {
    if (!this.connected || !this.call) return false;
    this.call.write(message);
    return true;
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.teardown();
    this.dropClients();
  }

  /** The kept client of a scheduler, or a new one in place of none or of one whose connection failed. */
  private clientFor(address: string): DispatcherClient {
    const kept = this.clients.get(address);
    if (kept && !failed(kept)) return kept;
    kept?.close();
    const Dispatcher = agentGrpc().Dispatcher;
    const client = new Dispatcher(address, this.options.channel.credentials, {
      ...this.options.channel.options,
      // A scheduler host that vanishes without closing the connection (power
      // cut, cable) is otherwise only noticed when TCP gives up, minutes later.
      // (Pings go only while a call is open: an idle kept connection costs nothing.)
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      // Its own connection, made with the certificate current now: never one left from before a renewal.
      'grpc.use_local_subchannel_pool': 1,
      // Kept for the next leader change, however far off: grpc-js would close it after 30 idle minutes.
      'grpc.client_idle_timeout_ms': MAX_TIMER_MS,
    }) as unknown as DispatcherClient;
    this.clients.set(address, client);
    return client;
  }

  /**
   * Connects to every other scheduler while this session runs, so that when
   * the leader dies the agent asks a follower who leads now, and registers
   * with that leader, over connections already made: no handshake in the
   * storm of a thousand agents at once, on a leader that must keep its Raft
   * heartbeats going meanwhile. An idle connection costs each side a little
   * memory and no traffic.
   *
   * At a session's start (sessionStart), a scheduler whose connection failed
   * is left to the next round: after a leader kill that is the dead leader,
   * and every agent dialling it the moment its new session opened (a client,
   * a resolver and a refused connection each) was a second of the CPU of a
   * process of 900 agents while the others still waited for their session.
   */
  private warmOthers(current: string, sessionStart = false): void {
    for (const address of this.options.addresses) {
      if (address === current || (sessionStart && this.failing.has(address) && !this.clients.has(address))) continue;
      this.failing.delete(address);
      this.warm(address);
    }
    // A scheduler that was down is connected to again at the next round, each agent at its own moment.
    if (this.warmTimer) clearTimeout(this.warmTimer);
    const delay = (this.options.warmAgainMs ?? WARM_AGAIN_MS) * (0.5 + Math.random());
    this.warmTimer = setTimeout(() => this.connected && this.currentAddress !== undefined && this.warmOthers(this.currentAddress), delay);
    this.warmTimer.unref?.();
  }

  private warm(address: string): void {
    const client = this.clientFor(address);
    const channel = client.getChannel();
    // A kept connection that closed (the scheduler restarted) is idle: asking its state with true reconnects it.
    if (this.watched.has(client)) {
      channel.getConnectivityState(true);
      return;
    }
    this.watched.add(client);
    const follow = (state: grpc.connectivityState): void => {
      if (state === grpc.connectivityState.SHUTDOWN) return;
      if (state === grpc.connectivityState.TRANSIENT_FAILURE) {
        // Left to itself grpc-js dials a scheduler that is down again and again, every agent in
        // step (they lost it at the same moment), and all of them shake hands with it the moment
        // it is back; in a process of simulated agents, that stalled their heartbeats. Dropped, it
        // is dialled again at the next warming round.
        if (this.client !== client) this.dropClient(address, client, true);
        return;
      }
      channel.watchConnectivityState(state, Infinity, () => follow(channel.getConnectivityState(false)));
    };
    follow(channel.getConnectivityState(true));
  }

  /** The address the list points at now. */
  private listed(): string {
    return this.options.addresses[this.addressIndex % this.options.addresses.length];
  }

  private dropClients(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
    this.client = undefined;
  }

  private open(): void {
    if (this.closed) return;
    const address = this.redirect ?? this.listed();
    const redirected = this.redirect !== undefined;
    const askingAgain = this.askingAgain;
    this.askingAgain = false;
    this.redirect = undefined;
    this.currentAddress = address;
    const client = this.clientFor(address);
    this.client = client;
    const call = client.Session();
    this.call = call;
    this.accepted = false;
    const { log } = this.options;

    // The set held, told to the scheduler in the registration below: its first changes may apply to it.
    const held = this.held.describe();
    let heldNamed = held !== undefined;
    let done = false;
    const fail = (reason: string, refused = false): void => {
      if (done || this.call !== call) return;
      done = true;
      const wasAccepted = this.accepted;
      this.teardown();
      // A refusal came over a working connection, kept for next time; a lost or failed one is not reused.
      if (client.getChannel().getConnectivityState(false) !== grpc.connectivityState.READY) this.dropClient(address, client, true);
      if (refused) {
        // The cluster refuses this certificate (e.g. revoked when the node was removed): only an
        // operator can change that, so it is said once, and asked again rarely.
        if (this.refusedFor !== reason) log.error(`refused by scheduler ${address}: ${reason}`);
        this.refusedFor = reason;
        if (wasAccepted) this.options.handlers.onLost();
      } else if (wasAccepted) {
        this.lost = { address, at: Date.now() };
        log.warn(`lost the session with scheduler ${address}: ${reason}; reconnecting`);
        this.options.handlers.onLost();
      } else if (this.failingSince === undefined) {
        log.warn(`cannot reach scheduler at ${address}: ${reason}; retrying with backoff`);
        this.failingSince = reason;
      } else {
        log.debug(`cannot reach scheduler at ${address}: ${reason}`);
      }
      const askAgain = this.askAgain;
      this.askAgain = false;
      if (askAgain) {
        this.redirect = address;
        this.askingAgain = true;
      } else if (!redirected || (wasAccepted && this.listed() === address)) {
        // A session reached by a redirect leaves the list where the refusal left it, and that is
        // often the leader's own place: lost, it was dialled again first (after a leader kill, 900
        // agents were refused by the dead one and backed off twice before asking anyone else).
        this.addressIndex++;
      }
      if (this.closed) return;
      // Sent on to the leader by name: go there at once, without counting it as a failure; only a
      // member that was itself reached by a redirect, and refused again, sends the agent into backoff.
      const delay = refused ? REFUSED_RETRY_MS : askAgain ? STALE_LEADER_RETRY_MS : this.redirect !== undefined && (!redirected || askingAgain) ? REDIRECT_DELAY_MS : this.backoff.delay();
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.open();
      }, delay);
    };

    call.on('data', (message: DispatcherMessage__Output) => {
      if (this.call !== call) return;
      if (message.accepted) {
        this.accepted = true;
        this.acceptedCount++;
        this.failingSince = undefined;
        this.refusedFor = undefined;
        this.backoff.reset();
        if (this.acceptTimer) clearTimeout(this.acceptTimer);
        this.acceptTimer = undefined;
        const period = Math.max(100, message.accepted.heartbeatPeriodMs || 5000);
        // A scheduler re-sends accepted when the cluster's heartbeat period changes.
        if (this.heartbeat) clearInterval(this.heartbeat);
        this.sentThermal = undefined;
        // A new session (or the period announced again): numbers start over, and a complete set follows,
        // or changes to the set held if the registration named it (only the session's first accepted).
        this.held.sessionStarted(heldNamed);
        heldNamed = false;
        this.resyncAsked = false;
        this.heartbeat = setInterval(() => this.beat(), period);
        // Start-up is done (the first session's): its garbage collected now, before the agent says it is up.
        settleStartupHeap();
        log.info({ scheduler: address, sessionId: message.accepted.sessionId, heartbeatPeriodMs: period }, 'session accepted');
        this.warmOthers(address, true);
        this.options.handlers.onAccepted(message.accepted.sessionId, message.accepted.nodeAddress);
      } else if (message.assignments) {
        if (!this.accepted) {
          fail('assignments arrived before the session was accepted');
          return;
        }
        this.resyncAsked = false;
        this.deliver(this.held.replace(message.assignments));
      } else if (message.assignmentChanges) {
        if (!this.accepted) {
          fail('assignment changes arrived before the session was accepted');
          return;
        }
        const holding = this.held.holding;
        const set = this.held.merge(message.assignmentChanges);
        if (set) this.deliver(set);
        else if (!this.resyncAsked) {
          this.resyncAsked = true;
          log.warn({ holding, appliesTo: message.assignmentChanges.appliesTo }, 'assignment changes for a set this agent does not hold; asking for the complete set');
          call.write({ resyncAssignments: { holding } });
        }
      } else if (message.logRequest) {
        if (this.accepted) this.options.handlers.onLogRequest?.(message.logRequest);
      } else if (message.mesh) {
        if (this.accepted) this.options.handlers.onMesh?.(message.mesh);
      } else if (message.imageWatch) {
        if (this.accepted) this.options.handlers.onImageWatch?.(message.imageWatch.references ?? []);
      } else if (message.imageFetch) {
        if (this.accepted) this.options.handlers.onImageFetch?.(message.imageFetch);
      } else if (message.revocations) {
        if (this.accepted) this.options.handlers.onRevocations?.(message.revocations);
      } else if (message.logCancel) {
        this.options.handlers.onLogCancel?.(message.logCancel.requestId);
      }
    });
    call.on('error', (error: grpc.ServiceError) => {
      const leader = error.metadata?.get(LEADER_METADATA)[0];
      if (typeof leader === 'string' && leader !== address) {
        if (leader === this.lost?.address && Date.now() - this.lost.at < STALE_LEADER_WINDOW_MS) this.askAgain = true;
        else this.redirect = leader;
      }
      fail(this.describe(error), error.code === grpc.status.PERMISSION_DENIED);
    });
    call.on('end', () => fail('the scheduler ended the session'));

    this.acceptTimer = setTimeout(() => fail('no answer to the registration'), this.options.acceptTimeoutMs ?? 10_000);
    call.write({
      register: {
        nodeId: this.options.nodeId,
        description: this.options.description(),
        advertiseAddr: this.options.advertiseAddr ?? '',
        imagePort: this.options.imagePort?.() ?? 0,
        incrementalAssignments: true,
        // HeldAssignments applies a task's status change sent alone.
        statusChanges: true,
        // The worker creates a task marked prepare_only without starting it (reconcile-plan.ts).
        preparesTasks: true,
        ...(held ? { held } : {}),
      },
    });
  }

  private deliver(set: AssignmentSet): void {
    this.options.handlers.onAssignments(set.tasks, { secrets: set.secrets, configs: set.configs }, set.imageSources);
  }

  private beat(): void {
    const thermal = this.options.thermal?.();
    const changed = thermal !== undefined && !sameThermalReading(thermal, this.sentThermal);
    if (changed) this.sentThermal = thermal;
    this.call?.write({ heartbeat: changed ? { thermal } : {} });
  }

  private describe(error: grpc.ServiceError): string {
    if (error.code === grpc.status.UNAVAILABLE) {
      return /ECONNREFUSED|connection refused/i.test(error.details) ? 'connection refused' : error.details || 'unavailable';
    }
    return error.details || error.message;
  }

  private teardown(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.warmTimer) clearTimeout(this.warmTimer);
    this.warmTimer = undefined;
    if (this.acceptTimer) clearTimeout(this.acceptTimer);
    this.heartbeat = undefined;
    this.acceptTimer = undefined;
    const call = this.call;
    this.call = undefined;
    this.accepted = false;
    if (call) {
      call.removeAllListeners();
      call.on('error', () => undefined); // the cancel below surfaces as an error
      call.cancel();
    }
    this.client = undefined;
  }

  private dropClient(address: string, client: DispatcherClient, failed = false): void {
    if (this.clients.get(address) === client) this.clients.delete(address);
    if (failed) this.failing.add(address);
    client.close();
  }
}

/** A client whose connection failed or was closed: grpc-js fails its calls at once until its own reconnect backoff (up to 2 min) ends. */
function failed(client: DispatcherClient): boolean {
  const state = client.getChannel().getConnectivityState(false);
  return state === grpc.connectivityState.TRANSIENT_FAILURE || state === grpc.connectivityState.SHUTDOWN;
}
