import * as grpc from '@grpc/grpc-js';
import { loadGrpc, type PlacementStrategy } from '@pisched/api';
import type { Logger } from 'pino';
import { Store } from './store/store';
import { LocalCommandLog } from './store/local-command-log';
import { newId } from './store/ids';
import { ControlLoop, type Pass } from './orchestrator/control-loop';
import { reconcileReplicated } from './orchestrator/replicated';
import { reapTasks } from './orchestrator/task-reaper';
import type { Clock } from './orchestrator/task-factory';
import { placePendingTasks } from './placement/placement';
import { reconcileGlobal } from './orchestrator/global';
import { reconcileUpdates } from './updater/updater';
import { Dispatcher } from './dispatcher/dispatcher';
import { controlHandlers } from './control/control-api';

export interface SchedulerOptions {
  id: string;
  listen: string;
  dataDir: string;
  heartbeatPeriodMs: number;
  heartbeatGrace: number;
  /** For services that do not choose one; binpack when not given. */
  placementStrategy?: PlacementStrategy;
  log: Logger;
}

const systemClock: Clock = { now: () => Date.now(), newId };

/**
 * One scheduler: the store (rebuilt from its durable log), the roles that
 * drive it — orchestrator, placement, reaper, dispatcher — and the gRPC
 * server for the CLI and the agents. Data flows one way: spec → desired tasks
 * → placement → assignment → agent → observed status.
 */
export class SchedulerServer {
  readonly store = new Store();
  private readonly commandLog: LocalCommandLog;
  private readonly loop: ControlLoop;
  private readonly dispatcher: Dispatcher;
  private readonly server = new grpc.Server();
  port = 0;

  constructor(private readonly options: SchedulerOptions) {
    this.commandLog = new LocalCommandLog(options.dataDir, this.store);
    const placement = { strategy: options.placementStrategy ?? 'binpack' };
    const passes: Pass[] = [
      { name: 'orchestrator', run: (state) => reconcileReplicated(state, systemClock) },
      { name: 'global-orchestrator', run: (state) => reconcileGlobal(state, systemClock) },
      // Before placement, so a batch's new tasks are placed in the same round.
      { name: 'updater', run: (state) => reconcileUpdates(state, systemClock) },
      { name: 'placement', run: (state) => placePendingTasks(state, systemClock, placement) },
      { name: 'reaper', run: (state) => reapTasks(state) },
    ];
    // A short tick so a restart delay ends close to on time.
    this.loop = new ControlLoop(this.store, passes, options.log, 250);
    this.dispatcher = new Dispatcher(
      this.store,
      systemClock,
      { heartbeatPeriodMs: options.heartbeatPeriodMs, heartbeatGrace: options.heartbeatGrace },
      options.log.child({ role: 'dispatcher' }),
    );
    const api = loadGrpc();
    this.server.addService(api.Control.service, controlHandlers(this.store, systemClock, passes, this.dispatcher));
    this.server.addService(api.Dispatcher.service, this.dispatcher.handlers());
  }

  async start(): Promise<void> {
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(this.options.listen, grpc.ServerCredentials.createInsecure(), (error, port) =>
        error ? reject(new Error(`cannot listen on ${this.options.listen}: ${error.message}`)) : resolve(port),
      ),
    );
    this.dispatcher.start();
    this.loop.start();
    const { services, tasks, nodes } = this.store.state;
    this.options.log.info(
      { id: this.options.id, listen: this.options.listen, services: services.size, tasks: tasks.size, nodes: nodes.size },
      'scheduler started',
    );
  }

  async stop(): Promise<void> {
    this.loop.stop();
    this.dispatcher.stop();
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    this.server.forceShutdown();
    this.commandLog.close();
  }
}
