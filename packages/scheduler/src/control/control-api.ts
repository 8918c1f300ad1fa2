import * as grpc from '@grpc/grpc-js';
import { stamp, stageTraceOn } from '@pisched/raft';
import { certValidityProblem, encodeAnswerInSlices, isPlacementStrategy, isThermalPolicy, validateServiceSpec, type ControlHandlers, type PlacementStrategy, type Node, type Service, type StoreAction, type Task } from '@pisched/api';
import type { Store } from '../store/store';
import type { StateMachine } from '../store/state-machine';
import type { Clock } from '../orchestrator/task-factory';
import type { Pass } from '../orchestrator/control-loop';
import { planService } from '../placement/plan';
import type { HeartbeatSettings } from '../dispatcher/dispatcher';
import { certValidity, clusterStrategy, emptyCluster, preemptionEnabled, thermalGraceMs, thermalPolicy } from '../cluster/cluster-settings';
import { countTasks } from '../orchestrator/replicated';
import { globalDesiredCount } from '../orchestrator/global';
import { ApiError, notFound, toServiceError } from './grpc-errors';
import { withNewSpec, withResume, withRollback } from '../updater/update-status';
import { rebalanceServices } from '../updater/rebalance';
import type { ClusterHandlers } from '../cluster/membership-handlers';
import { DEFAULT_LOG_TIMEOUT_MS, gatherServiceLogs, type LogSource, type ServiceLogs } from '../logs/service-logs';
import { followServiceLogs } from '../logs/follow-logs';
import type { SecurityCalls } from '../security/security-handlers';
import { checkPrivilegedAllowed, parseAllowPrivileged } from './privileged-gate';
import { checkPortsFree } from './port-gate';
import { checkNetworksExist, type NetworkCalls } from './network-handlers';
import type { RevocationCalls } from '../security/revocation-handlers';
import type { FileObjectCalls } from './file-object-handlers';
import { checkFileReferences } from './file-object-use';
import { unary } from './unary';
import { findService, requireService } from './find-service';
import { gatherServiceCreates } from './service-create-batch';
import { GatheredWrites } from '../store/gathered-writes';
import type { DashboardLoginCalls } from '../security/dashboard-login-handlers';

/**
 * The Control API the CLI talks to. Writes validate the spec (the same rules
 * the CLI applies) and go through the store as commands; reads answer from
 * the applied state.
 */
/** What the control API shows of the agents' heartbeats, which are not stored. */
export interface HeartbeatView {
  heartbeat(): HeartbeatSettings;
  heartbeatAges(): Record<string, number>;
}

export function controlHandlers(
  store: Store,
  clock: Clock,
  passes: Pass[],
  heartbeats: HeartbeatView,
  cluster: ClusterHandlers,
  /** The agents' sessions, which logs are read over. */
  logs: LogSource,
  /** This scheduler's --placement-strategy: shown as in force only until the cluster has one stored. */
  initialStrategy: PlacementStrategy = 'binpack',
): Omit<ControlHandlers, SecurityCalls | RevocationCalls | FileObjectCalls | DashboardLoginCalls | NetworkCalls> {
  const clusterResponse = () => {
    const { periodMs, grace } = heartbeats.heartbeat();
    return {
      cluster: store.state.cluster,
      heartbeatPeriodMs: periodMs,
      heartbeatGrace: grace,
      placementStrategy: clusterStrategy(store.state, initialStrategy),
      certExpiryMs: certValidity(store.state),
      allowPrivileged: !store.state.cluster?.denyPrivileged,
      preemption: preemptionEnabled(store.state),
      thermalPolicy: thermalPolicy(store.state),
      thermalGraceMs: thermalGraceMs(store.state),
      rebalanceAuto: !!store.state.cluster?.rebalanceAuto,
    };
  };

  // Gathered without waiting: a lone create commits at once, a crowd shares a commit.
  const creates = new GatheredWrites(store, 0, gatherServiceCreates, 'create');

  return {
    CreateService: unary(async (request) => {
      const spec = validateServiceSpec(request.spec ?? {});
      if (stageTraceOn) stamp(spec.name, 'handler');
      const now = clock.now();
      const id = clock.newId();
      await creates.write({ id, meta: { version: 0, createdAt: now, updatedAt: now }, spec, previousSpec: null, updateStatus: null });
      if (stageTraceOn) stamp(spec.name, 'answer');
      return { service: store.state.services.get(id) };
    }),

    UpdateService: unary(async (request) => {
      const spec = validateServiceSpec(request.spec ?? {});
      const now = clock.now();
      const id = await store.update((state) => {
        const service = requireService(state, request.service);
        if (spec.name !== service.spec!.name) {
          throw new ApiError(grpc.status.INVALID_ARGUMENT, 'renaming a service is not supported');
        }
        if (request.version !== service.meta!.version) {
          throw new ApiError(
            grpc.status.ABORTED,
            `service ${service.spec!.name} changed since it was read (version ${service.meta!.version}, not ${request.version}); try again`,
          );
        }
        checkPrivilegedAllowed(state, spec, service.spec!);
        checkFileReferences(state, spec);
        checkPortsFree(state, spec, service.id);
        checkNetworksExist(state, spec);
        return [[{ action: 'putService', putService: withNewSpec(service, spec, now) }], service.id];
      });
      return { service: store.state.services.get(id!) };
    }),

    RemoveService: unary(async (request) => {
      const now = clock.now();
      await store.update((state) => {
        const service = requireService(state, request.service);
        const actions: StoreAction[] = [{ action: 'removeService', removeService: service.id }];
        for (const task of state.tasks.ofService(service.id).values()) {
          if (task.desiredState === 'REMOVE') continue;
          const removed: Task = { ...task, desiredState: 'REMOVE', meta: { ...task.meta!, updatedAt: now } };
          actions.push({ action: 'putTask', putTask: removed });
        }
        return actions;
      });
      return {};
    }),

    RollbackService: unary(async (request) => {
      const now = clock.now();
      const id = await store.update((state) => {
        const service = requireService(state, request.service);
        if (!service.previousSpec) {
          throw new ApiError(grpc.status.FAILED_PRECONDITION, `service ${service.spec!.name} has no previous spec to roll back to`);
        }
        checkPrivilegedAllowed(state, service.previousSpec, service.spec!);
        checkFileReferences(state, service.previousSpec);
        checkPortsFree(state, service.previousSpec, service.id);
        checkNetworksExist(state, service.previousSpec);
        return [[{ action: 'putService', putService: withRollback(service, now, 'manually requested rollback') }], service.id];
      });
      return { service: store.state.services.get(id!) };
    }),

    ResumeServiceUpdate: unary(async (request) => {
      const now = clock.now();
      const id = await store.update((state) => {
        const service = requireService(state, request.service);
        const current = service.updateStatus?.state ?? '';
        if (current !== 'paused' && current !== 'rollback_paused') {
          throw new ApiError(grpc.status.FAILED_PRECONDITION, `service ${service.spec!.name} has no paused update to resume`);
        }
        return [[{ action: 'putService', putService: withResume(service, now) }], service.id];
      });
      return { service: store.state.services.get(id!) };
    }),

    GetService: unary((request) => ({ service: requireService(store.state, request.service) })),

    ListServices: unary(() => ({
      services: [...store.state.services.values()]
        .sort((a, b) => a.spec!.name.localeCompare(b.spec!.name))
        .map((service) => ({
          service,
          desired: service.spec!.mode === 'GLOBAL' ? globalDesiredCount(store.state, service) : service.spec!.replicas,
          ...countTasks(store.state, service),
        })),
    })),

    GetServiceLogs: unary(async (request) => {
      const service = requireService(store.state, request.service);
      return gatherServiceLogs(store.state, service, request.tail, logs, { timeoutMs: DEFAULT_LOG_TIMEOUT_MS, newId: clock.newId });
    }),

    FollowServiceLogs: (call: grpc.ServerWritableStream<{ service: string; tail: number }, ServiceLogs>) => {
      let service: Service;
      try {
        service = requireService(store.state, call.request.service);
      } catch (error) {
        call.emit('error', toServiceError(error));
        return;
      }
      const stop = followServiceLogs(
        store.state,
        service,
        call.request.tail,
        logs,
        { timeoutMs: DEFAULT_LOG_TIMEOUT_MS, newId: clock.newId },
        (batch) => call.write(batch),
        () => call.end(),
      );
      // The caller went away (Ctrl-C): the agents stop reading too.
      call.on('cancelled', stop);
      call.on('close', stop);
    },

    ListTasks: unary((request) => {
      const serviceId = request.service ? requireService(store.state, request.service).id : undefined;
      const tasks = [...(serviceId === undefined ? store.state.tasks : store.state.tasks.ofService(serviceId)).values()]
        .sort(
          (a, b) =>
            a.serviceName.localeCompare(b.serviceName) ||
            a.slot - b.slot ||
            (b.meta?.createdAt ?? 0) - (a.meta?.createdAt ?? 0),
        );
      // 10,000 tasks are 4 MiB of protobuf, a second of encoding on a Pi under load: in one go
      // (as grpc-js would) that held the member's event loop past its followers' election timeout.
      return encodeAnswerInSlices('ListTasksResponse', 'tasks', { tasks });
    }),

    ListNodes: unary(() => ({
      nodes: [...store.state.nodes.values()].sort((a, b) => a.id.localeCompare(b.id)),
      heartbeatAgeMs: heartbeats.heartbeatAges(),
    })),

    GetCluster: unary(() => clusterResponse()),

    UpdateCluster: unary(async (request) => {
      const { heartbeatPeriodMs, heartbeatGrace } = request;
      const strategy = request.placementStrategy.trim().toLowerCase();
      if (strategy !== '' && !isPlacementStrategy(strategy)) {
        throw new ApiError(grpc.status.INVALID_ARGUMENT, `invalid placement strategy "${request.placementStrategy}": use binpack or spread`);
      }
      if (heartbeatPeriodMs !== 0 && (heartbeatPeriodMs < 100 || heartbeatPeriodMs > 60_000)) {
        throw new ApiError(grpc.status.INVALID_ARGUMENT, 'invalid heartbeat period: must be from 100ms to 1m');
      }
      if (heartbeatGrace > 100) throw new ApiError(grpc.status.INVALID_ARGUMENT, 'invalid heartbeat grace: at most 100 periods');
      const certExpiryMs = Number(request.certExpiryMs ?? 0);
      const expiryProblem = certValidityProblem(certExpiryMs);
      if (expiryProblem) throw new ApiError(grpc.status.INVALID_ARGUMENT, `invalid certificate expiry: ${expiryProblem}`);
      const privileged = parseAllowPrivileged(request.allowPrivileged);
      const preemption = (request.preemption ?? '').trim().toLowerCase();
      if (preemption !== '' && preemption !== 'on' && preemption !== 'off') {
        throw new ApiError(grpc.status.INVALID_ARGUMENT, `invalid preemption "${request.preemption}": use on or off`);
      }
      const thermal = (request.thermalPolicy ?? '').trim().toLowerCase();
      if (thermal !== '' && !isThermalPolicy(thermal)) {
        throw new ApiError(grpc.status.INVALID_ARGUMENT, `invalid thermal policy "${request.thermalPolicy}": use off, prefer-cool or avoid-throttled`);
      }
      const rebalance = (request.rebalance ?? '').trim().toLowerCase();
      if (rebalance !== '' && rebalance !== 'auto' && rebalance !== 'off') {
        throw new ApiError(grpc.status.INVALID_ARGUMENT, `invalid rebalance "${request.rebalance}": use auto or off`);
      }
      const thermalGrace = Number(request.thermalGraceMs ?? 0);
      if (thermalGrace !== 0 && (thermalGrace < 1000 || thermalGrace > 86_400_000)) {
        throw new ApiError(grpc.status.INVALID_ARGUMENT, 'invalid thermal grace: must be from 1s to 24h');
      }
      const now = clock.now();
      await store.update((state) => {
        const current = state.cluster ?? emptyCluster(now);
        return [{
          action: 'putCluster',
          putCluster: {
            ...current,
            heartbeatPeriodMs: heartbeatPeriodMs || current.heartbeatPeriodMs,
            heartbeatGrace: heartbeatGrace || current.heartbeatGrace,
            placementStrategy: strategy || current.placementStrategy,
            certExpiryMs: certExpiryMs || current.certExpiryMs,
            ...privileged,
            preemptionDisabled: preemption === '' ? current.preemptionDisabled : preemption === 'off',
            thermalPolicy: thermal || current.thermalPolicy,
            thermalGraceMs: thermalGrace || current.thermalGraceMs,
            rebalanceAuto: rebalance === '' ? current.rebalanceAuto : rebalance === 'auto',
            meta: { ...current.meta!, updatedAt: now },
          },
        }];
      });
      return clusterResponse();
    }),

    UpdateNode: unary(async (request) => {
      const availability = request.availability.toUpperCase();
      if (availability !== '' && !AVAILABILITIES.includes(availability as Node['availability'])) {
        throw new ApiError(grpc.status.INVALID_ARGUMENT, `invalid availability "${request.availability}": use active, pause or drain`);
      }
      const now = clock.now();
      await store.update((state) => {
        const node = state.nodes.get(request.node);
        if (!node) throw notFound(`node ${request.node}`);
        const labels = { ...node.labels, ...request.labelAdd };
        for (const key of request.labelRm) delete labels[key];
        const updated: Node = {
          ...node,
          labels,
          availability: (availability || node.availability) as Node['availability'],
          meta: { ...node.meta!, updatedAt: now },
        };
        return [{ action: 'putNode', putNode: updated }];
      });
      return { node: store.state.nodes.get(request.node) };
    }),

    ...cluster,

    RebalanceServices: unary(async (request) => {
      const chosen = (state: StateMachine): Service[] => {
        if (request.all) return [...state.services.values()].filter((service) => service.spec?.mode === 'REPLICATED').sort((a, b) => a.spec!.name.localeCompare(b.spec!.name));
        if (request.services.length === 0) throw new ApiError(grpc.status.INVALID_ARGUMENT, 'name the services to rebalance, or ask for all');
        return request.services.map((name: string) => {
          const service = requireService(state, name);
          if (service.spec!.mode !== 'REPLICATED') {
            throw new ApiError(grpc.status.INVALID_ARGUMENT, `service ${service.spec!.name} is ${service.spec!.mode.toLowerCase().replace('_', ' ')}: only replicated services are rebalanced`);
          }
          return service;
        });
      };
      const now = clock.now();
      if (request.dryRun) {
        const { moves, notes } = rebalanceServices(store.state, chosen(store.state), now, clusterStrategy(store.state, initialStrategy));
        return { moves, notes };
      }
      const { moves, notes } = (await store.update((state) => {
        const result = rebalanceServices(state, chosen(state), now, clusterStrategy(state, initialStrategy));
        return [result.actions, result];
      }))!;
      return { moves, notes };
    }),

    PlanService: unary((request) => {
      const spec = validateServiceSpec(request.spec ?? {});
      const existing = request.service ? requireService(store.state, request.service) : undefined;
      if (!existing && findService(store.state, spec.name)) {
        throw new ApiError(grpc.status.ALREADY_EXISTS, `service name ${spec.name} is already in use`);
      }
      checkPrivilegedAllowed(store.state, spec, existing?.spec ?? undefined);
      checkFileReferences(store.state, spec);
      return { tasks: planService(store.state, spec, existing, passes, clock) };
    }),
  };
}

const AVAILABILITIES: Node['availability'][] = ['ACTIVE', 'PAUSE', 'DRAIN'];
