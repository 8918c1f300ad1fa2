import { ingressPorts as ingressPortsOf, meshTargetPorts, isTerminal, stateRank, type PortConfig, type Task, type TaskState, type TaskStatus } from '@pisched/api';
import type { Logger } from 'pino';
import { buildContainerSpec, ingressBindings, startsWithHealthCheck, type ContainerNetworking } from './container-spec';
import { engineMessage, isEngineUnreachable } from './docker-driver';
import type { ContainerDriver, LocalImage } from './container-driver';
import type { ContainerEvent } from './event-watcher';
import type { ObservedContainer, StatusReport } from './observed';
import { assignmentNews } from './assignment-news';
import { planReconcile, type ReconcileAction } from './reconcile-plan';
import type { StatusReporter } from './status-reporter';
import { MissingFileError, type SecretMounts } from './secret-mounts';
import { SingleFlight } from './single-flight';
import { CoalescedList } from './coalesced-list';
import type { ImagePeers } from './images/image-peers';

/**
 * How long a pull may take before the agent gives up on the registry and asks
 * its peers: without a registry a pull usually fails at once, but a registry
 * that does not answer (a LAN without internet, a dead proxy) could hold a task for minutes.
 */
const PULL_TIMEOUT_MS = 30_000;

/** A pull and the fetch from peers after it both failed: the message says both. */
class ImageUnavailable extends Error {}

export interface WorkerOptions {
  driver: ContainerDriver;
  nodeId: string;
  reporter: StatusReporter;
  log: Logger;
  /** SIGTERM grace before SIGKILL when stopping a task, as `docker stop -t`. */
  stopGraceSeconds?: number;
  /** Where tasks' secret and config files are made; without it a task using any is rejected. */
  files?: SecretMounts;
  /** This node's address as the scheduler stored it: where ingress ports are published. */
  nodeAddress?: () => string;
  /**
   * How long a task with ingress ports is left running after it was told to
   * stop, before the stop signal: the scheduler took it out of every node's
   * mesh table in the same push, and new connections must have moved away.
   */
  meshDrainMs?: number;
  /** Gets a task's pisched networks ready on this node; without it a task on a network is rejected. */
  attachNetworks?: (task: Task) => Promise<ContainerNetworking>;
  /** Other nodes to fetch an image from when the pull fails; without it a failed pull rejects the task. */
  images?: ImagePeers;
}

interface Chain {
  tail: Promise<void>;
  /** A reconcile job queued but not yet begun; further requests join it. */
  queued: Promise<void> | undefined;
}

/**
 * Makes the engine match the assignment set, one task at a time.
 *
 * Every piece of work for a task runs on that task's own promise chain and
 * re-reads the engine when it begins, so overlapping triggers (an assignment
 * message, an engine event, the periodic pass) can never create a task's
 * container twice, and no decision rests on an observation another job has
 * since made stale.
 */
export class Worker {
  private assignments: Map<string, Task> | null = null;
  /** Orphan removal is allowed only after this session's first assignment set. */
  private haveSessionAssignments = false;
  private resendOnNextAssignments = false;
  /** The latest status this agent determined per task, across sessions. */
  private readonly memory = new Map<string, TaskStatus>();
  private readonly chains = new Map<string, Chain>();
  /** Full passes under way (see reconcileAll). */
  private readonly passes = new Set<Promise<void>>();
  /** Tasks whose mesh drain has been waited out. */
  private readonly drained = new Set<string>();
  private periodic: NodeJS.Timeout | undefined;
  /** Image checks and pulls under way, by reference. */
  private readonly images = new SingleFlight<LocalImage | undefined>();
  /** Each job's read of its task's containers, batched with the other jobs' of the moment. */
  private readonly containers: CoalescedList;
  private readonly grace: number;
  /** Tasks prepared (created, not started), until they start or go. */
  private readonly prepared = new Map<string, Made>();

  constructor(private readonly options: WorkerOptions) {
    this.grace = options.stopGraceSeconds ?? 10;
    this.containers = new CoalescedList((taskIds) => options.driver.listContainers(options.nodeId, taskIds));
  }

  private get log(): Logger {
    return this.options.log;
  }

  /**
   * A new session began: the scheduler may know less than we told the last
   * one, and its assignment set is not in yet.
   */
  sessionStarted(): void {
    this.haveSessionAssignments = false;
    this.resendOnNextAssignments = true;
  }

  sessionLost(): void {
    this.haveSessionAssignments = false;
  }

  /** The complete set of tasks this node must act on. */
  setAssignments(assigned: readonly Task[]): Promise<void> {
    // A task meant for another node must never get a container labelled as ours.
    const tasks = assigned.filter((task) => task.nodeId === '' || task.nodeId === this.options.nodeId);
    if (tasks.length !== assigned.length) {
      this.log.warn({ ignored: assigned.length - tasks.length }, 'assignments included tasks of other nodes; ignored');
    }
    const previous = this.assignments;
    const firstOfSession = !this.haveSessionAssignments;
    this.assignments = new Map(tasks.map((task) => [task.id, task]));
    this.haveSessionAssignments = true;
    if (this.resendOnNextAssignments) {
      this.resendOnNextAssignments = false;
      // The scheduler keeps forward moves only, so repeating what the agent
      // already knows is harmless and fills whatever the last session lost.
      for (const task of tasks) {
        const status = this.memory.get(task.id);
        if (status && !(task.status && isTerminal(task.status.state))) {
          this.options.reporter.enqueue({ taskId: task.id, status });
        }
      }
    }
    for (const id of [...this.memory.keys()]) {
      if (!this.assignments.has(id)) this.memory.delete(id);
    }
    for (const id of [...this.drained]) {
      if (!this.assignments.has(id)) this.drained.delete(id);
    }
    for (const id of [...this.prepared.keys()]) {
      if (!this.assignments.has(id)) this.prepared.delete(id);
    }
    // A session's first set may follow anything (a restart, missed events): look at everything once.
    if (firstOfSession || !previous) return this.reconcileAll();
    return this.reconcileTasks(assignmentNews(previous, this.assignments, this.memory));
  }

  /** The latest status this agent determined for a task (for tests and logs). */
  statusOf(taskId: string): TaskStatus | undefined {
    return this.memory.get(taskId);
  }

  handleEvent(event: ContainerEvent): void {
    if (!this.assignments) return;
    this.log.debug({ taskId: event.taskId, action: event.action, containerId: event.containerId }, 'container event');
    void this.reconcileTask(event.taskId);
  }

  /** Every assigned task and every container of this node, each on its own chain. */
  reconcileAll(): Promise<void> {
    // Counted until its tasks are on their chains, so idle() does not resolve while it still lists the engine.
    const pass = this.reconcileAllNow();
    this.passes.add(pass);
    void pass.finally(() => this.passes.delete(pass));
    return pass;
  }

  /**
   * One list of the engine for the whole pass: a task whose containers, as
   * listed, need no step is not looked at again (no list and inspect of its
   * own), which is every task of an idle node. Any other task gets the usual
   * job, which re-reads the engine before it acts.
   */
  private async reconcileAllNow(): Promise<void> {
    if (!this.assignments) return;
    let observed: ObservedContainer[];
    try {
      observed = await this.options.driver.glance(this.options.nodeId);
    } catch (error) {
      this.jobFailed('(all)', error);
      return;
    }
    const byTask = new Map<string, ObservedContainer[]>();
    for (const container of observed) byTask.set(container.taskId, [...(byTask.get(container.taskId) ?? []), container]);
    const ids = new Set([...this.assignments.keys(), ...byTask.keys()]);
    await this.reconcileTasks([...ids].filter((id) => this.needsLook(id, byTask.get(id) ?? [])));
  }

  /** Whether the plan for a task, over what the list shows, has any step. */
  private needsLook(taskId: string, listed: ObservedContainer[]): boolean {
    const task = this.assignments?.get(taskId);
    return planReconcile(task ? [task] : [], listed, this.memory, { removeUnassigned: this.haveSessionAssignments }).length > 0;
  }

  private async reconcileTasks(ids: Iterable<string>): Promise<void> {
    if (!this.assignments) return;
    await Promise.all([...ids].map((id) => this.reconcileTask(id)));
    // Secret files live only while their task is meant to run: a tmpfs of a task that ended, is
    // stopping or is no longer assigned goes (a running container keeps its own bind mount of the file).
    const live = [...this.assignments.values()].filter((task) => task.desiredState === 'RUNNING' && !isTerminal(this.known(task)));
    await this.options.files?.releaseAllBut(new Set(live.map((task) => task.id)));
  }

  reconcileTask(taskId: string): Promise<void> {
    const entry = this.chains.get(taskId) ?? { tail: Promise.resolve(), queued: undefined };
    if (entry.queued) return entry.queued;
    const job = entry.tail
      .then(async () => {
        entry.queued = undefined;
        await this.runTask(taskId);
      })
      .catch((error: unknown) => this.jobFailed(taskId, error));
    entry.tail = job;
    entry.queued = job;
    this.chains.set(taskId, entry);
    void job.then(() => {
      if (this.chains.get(taskId) === entry && entry.tail === job) this.chains.delete(taskId);
    });
    return job;
  }

  /** Resolves once no job is queued or running. */
  async idle(): Promise<void> {
    while (this.chains.size > 0 || this.passes.size > 0) {
      await Promise.all([...this.passes, ...[...this.chains.values()].map((chain) => chain.tail)]);
    }
  }

  startPeriodic(intervalMs = 10_000): void {
    this.stopPeriodic();
    this.periodic = setInterval(() => void this.reconcileAll(), intervalMs);
    this.periodic.unref();
  }

  stopPeriodic(): void {
    if (this.periodic) clearInterval(this.periodic);
    this.periodic = undefined;
  }

  private async runTask(taskId: string): Promise<void> {
    if (!this.assignments) return;
    const containers = await this.containers.of(taskId);
    const task = this.assignments.get(taskId);
    const actions = planReconcile(task ? [task] : [], containers, this.memory, {
      removeUnassigned: this.haveSessionAssignments,
    });
    this.log.debug({ taskId, observed: containers.map((c) => `${c.id.slice(0, 12)}:${c.phase}`), actions: actions.map((a) => a.kind) }, 'reconcile');
    for (const action of actions) await this.execute(action);
  }

  private async execute(action: ReconcileAction): Promise<void> {
    const { driver } = this.options;
    switch (action.kind) {
      case 'report':
        this.report(action.taskId, action.status);
        return;
      case 'start':
        await this.startTask(action.task);
        return;
      case 'launch':
        await this.launch(action.task, action.containerId, await this.madeOf(action.task));
        return;
      case 'stop':
        await this.drain(action.taskId);
        this.log.info({ taskId: action.taskId, containerId: action.containerId }, 'stopping container');
        await driver.stopContainer(action.containerId, this.graceFor(action.taskId));
        if (action.then) this.report(action.taskId, action.then);
        return;
      case 'remove':
        this.log.info({ taskId: action.taskId, containerId: action.containerId, reason: action.reason }, 'removing container');
        if (action.stopFirst) await driver.stopContainer(action.containerId, this.graceFor(action.taskId));
        await driver.removeContainer(action.containerId);
        await this.options.files?.release(action.taskId);
        return;
    }
  }

  /** Waits out the mesh drain of a task that receives ingress traffic, once per task. */
  private async drain(taskId: string): Promise<void> {
    const task = this.assignments?.get(taskId);
    const ms = this.options.meshDrainMs ?? 0;
    if (!task || ms <= 0 || (ingressPortsOf(task.spec).length === 0 && (task.spec?.networks ?? []).length === 0) || this.drained.has(taskId)) return;
    this.drained.add(taskId);
    this.log.info({ taskId, ms }, 'draining mesh connections before the stop');
    await new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** The task's --stop-grace-period when it has one, else the agent's. */
  private graceFor(taskId: string): number {
    const ms = this.assignments?.get(taskId)?.spec?.container?.stopGracePeriodMs ?? 0;
    return ms > 0 ? Math.ceil(ms / 1000) : this.grace;
  }

  private known(task: Task): TaskState {
    const mine = this.memory.get(task.id)?.state;
    const theirs = task.status?.state ?? 'NEW';
    return mine !== undefined && stateRank(mine) > stateRank(theirs) ? mine : theirs;
  }

  private async startTask(task: Task): Promise<void> {
    const { driver, nodeId } = this.options;
    const advance = (state: TaskState, message: string): void => {
      if (stateRank(state) > stateRank(this.known(task))) this.report(task.id, { state, message });
    };

    advance('ACCEPTED', 'accepted');
    advance('PREPARING', 'preparing');
    const image = task.spec?.container?.image ?? '';
    let local: LocalImage | undefined;
    try {
      // Twenty replicas of one image ask the engine (and a missing image's registry) once, not twenty times.
      local = await this.images.run(image, async () => {
        const present = await driver.localImage(image);
        if (present) return present;
        await this.obtainImage(task.id, image);
        return driver.localImage(image);
      });
    } catch (error) {
      if (error instanceof ImageUnavailable) {
        this.report(task.id, { state: 'REJECTED', message: 'preparing failed', err: error.message });
        return;
      }
      let err = engineVerdict(error);
      // Without a registry the engine's words are about the network only
      // ("lookup registry-1.docker.io: no such host"); name the image so a
      // person reading `pisched ps` knows which one is missing.
      const repository = image.replace(/[:@][^/]*$/, '');
      if (!err.includes(repository)) err = `pull ${image}: ${err}`;
      this.report(task.id, { state: 'REJECTED', message: 'preparing failed', err });
      return;
    }

    // A task to prepare says STARTING only once its container is made, and with it: see reconcile-plan.ts.
    if (!task.prepareOnly) advance('STARTING', 'starting');
    let fileMounts;
    try {
      fileMounts = await this.prepareFiles(task);
    } catch (error) {
      // Names only, never a value: the message is the node's word on what it lacks.
      const err = error instanceof MissingFileError ? error.message : `cannot make the secret files: ${(error as Error).message}`;
      this.report(task.id, { state: 'REJECTED', message: 'preparing failed', err });
      return;
    }
    let networking: ContainerNetworking | undefined;
    if ((task.spec?.networks ?? []).length > 0) {
      try {
        if (!this.options.attachNetworks) throw new Error('this agent has no service discovery');
        networking = await this.options.attachNetworks(task);
      } catch (error) {
        await this.options.files?.release(task.id);
        this.report(task.id, { state: 'REJECTED', message: 'preparing failed', err: `cannot join networks ${task.spec!.networks.join(', ')}: ${(error as Error).message}` });
        return;
      }
      try {
        networking.imagePorts = await imagePortsOf(driver, task);
      } catch (error) {
        await this.options.files?.release(task.id);
        this.report(task.id, { state: 'REJECTED', message: 'preparing failed', err: `cannot read the ports image ${image} exposes: ${(error as Error).message}` });
        return;
      }
    }
    let containerId: string;
    try {
      containerId = await driver.createContainer(buildContainerSpec(task, nodeId, this.options.nodeAddress?.() ?? '', fileMounts, networking));
      for (const network of networking?.engineNetworks.slice(1) ?? []) await driver.connectNetwork(containerId, network);
    } catch (error) {
      await this.options.files?.release(task.id);
      this.report(task.id, { state: 'REJECTED', message: 'create failed', err: engineVerdict(error) });
      return;
    }
    const made: Made = { local, imagePorts: (networking?.imagePorts ?? []).length > 0 };
    if (task.prepareOnly) {
      this.prepared.set(task.id, made);
      this.report(task.id, { state: 'STARTING', message: 'prepared; starts once the task it replaces has stopped', containerId });
      return;
    }
    await this.launch(task, containerId, made);
  }

  /** What the task's prepare found; after an agent restart, read again. */
  private async madeOf(task: Task): Promise<Made> {
    const kept = this.prepared.get(task.id);
    if (kept) return kept;
    let local: LocalImage | undefined;
    try {
      local = await this.options.driver.localImage(task.spec?.container?.image ?? '');
    } catch (error) {
      // Only the image's health check is read from it: without it the start goes on as for an image with none.
      engineVerdict(error);
    }
    let imagePorts = true;
    try {
      imagePorts = (await imagePortsOf(this.options.driver, task)).length > 0;
    } catch (error) {
      // Unread, the host ports are read after the start as if it exposed some: one call more, no port missed.
      engineVerdict(error);
    }
    return { local, imagePorts };
  }

  /** Starts a task's created container and reports it running (with its ports and health). */
  private async launch(task: Task, containerId: string, made: Made): Promise<void> {
    const { driver } = this.options;
    this.prepared.delete(task.id);
    try {
      await driver.startContainer(containerId);
    } catch (error) {
      const err = engineVerdict(error);
      this.report(task.id, { state: 'FAILED', message: 'start failed', err, containerId });
      // A created-but-never-started container would block the name and
      // count as a task container; nothing in it is worth keeping.
      await driver.removeContainer(containerId).catch((removeError: unknown) => this.jobFailed(task.id, removeError));
      await this.options.files?.release(task.id);
      return;
    }
    // The mesh reaches the task at the host ports the engine picked, known only now.
    let ingressPorts: PortConfig[] = [];
    if (meshTargetPorts(task.spec).length > 0 || made.imagePorts) {
      try {
        ingressPorts = ingressBindings(task, await driver.hostPorts(containerId));
      } catch (error) {
        // Reported without ports: the task runs, and the next pass reports them.
        this.jobFailed(task.id, error);
      }
    }
    // Without its health, a start-first update or a batch would count the task as up before its check passed.
    const health = startsWithHealthCheck(task, made.local) ? { health: 'starting' } : {};
    this.report(task.id, { state: 'RUNNING', message: 'started', containerId, ...health, ...(ingressPorts.length > 0 ? { ingressPorts } : {}) });
  }

  /** Pulls, the registry being the first choice; then, if other nodes hold the image, fetches it from them. */
  private async obtainImage(taskId: string, image: string): Promise<void> {
    this.log.info({ taskId, image }, 'image not present locally; pulling');
    try {
      await withTimeout(this.options.driver.pullImage(image), PULL_TIMEOUT_MS, `no answer from the registry in ${PULL_TIMEOUT_MS / 1000} s`);
      void this.options.images?.inventory.refresh();
      return;
    } catch (pullError) {
      const want = this.options.images?.sourcesFor(image);
      if (!want || isEngineUnreachable(pullError)) throw pullError;
      this.log.info({ taskId, image, err: engineMessage(pullError), sources: want.sources.map((source) => source.nodeId) }, 'pull failed; fetching the image from another node');
      try {
        await this.options.images!.fetch(want);
      } catch (fetchError) {
        throw new ImageUnavailable(`pull ${image}: ${engineMessage(pullError)}; ${(fetchError as Error).message}`);
      }
    }
  }

  private prepareFiles(task: Task) {
    const container = task.spec?.container;
    const needed = (container?.secrets?.length ?? 0) + (container?.configs?.length ?? 0);
    if (!this.options.files) {
      if (needed > 0) throw new MissingFileError('this agent cannot make secret or config files');
      return Promise.resolve([]);
    }
    return this.options.files.prepare(task);
  }

  private report(taskId: string, report: StatusReport): void {
    const status: TaskStatus = {
      state: report.state,
      timestamp: Date.now(),
      message: report.message,
      err: report.err ?? '',
      exitCode: report.exitCode ?? 0,
      containerId: report.containerId ?? '',
      health: report.health ?? '',
      ingressPorts: report.ingressPorts ?? [],
    };
    this.memory.set(taskId, status);
    this.options.reporter.enqueue({ taskId, status });
    const fields = { taskId, state: status.state, containerId: status.containerId || undefined, err: status.err || undefined };
    if (status.state === 'FAILED' || status.state === 'REJECTED') this.log.warn(fields, 'task status');
    else this.log.info(fields, 'task status');
  }

  private jobFailed(taskId: string, error: unknown): void {
    if (isEngineUnreachable(error)) {
      // The event watcher already said the engine is gone; once per outage is enough.
      this.log.debug({ taskId, err: engineMessage(error) }, 'engine unreachable; will retry');
    } else {
      this.log.warn({ taskId, err: engineMessage(error) }, 'reconcile step failed; will retry');
    }
  }
}

/**
 * The engine's answer as a task's error. Only the engine's answers decide a
 * task's fate; an engine that cannot be reached leaves the task where it is
 * for a later pass to retry (thrown on).
 */
function engineVerdict(error: unknown): string {
  if (isEngineUnreachable(error)) throw error;
  return engineMessage(error);
}

/**
 * The ports the task's image exposes that its container publishes for the
 * mesh: on a network only, and only the image says which. The prepare reads
 * them for the create, a start after an agent restart again: one rule for both.
 */
function imagePortsOf(driver: ContainerDriver, task: Task): Promise<PortConfig[]> {
  if ((task.spec?.networks ?? []).length === 0) return Promise.resolve([]);
  return driver.imageExposedPorts(task.spec?.container?.image ?? '');
}

/** What a start needs to know of a task's container once it is created. */
interface Made {
  /** The image as its check found it: whether it has a HEALTHCHECK. */
  local: LocalImage | undefined;
  /** The image exposes ports the mesh reaches on a network: read the host ports after the start. */
  imagePorts: boolean;
}

function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
