import type { ClusterEvent, ClusterMember } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';
import { cpusOf, nodeCapacity, reservedByTasks, ZERO } from '../placement/node-capacity';
import { countTasks } from '../orchestrator/replicated';
import { globalDesiredCount } from '../orchestrator/global';

/** What the page draws: plain JSON, built from this member's applied state. */
export interface DashboardView {
  self: string;
  leader: string;
  members: { id: string; address: string; role: string; reachable: boolean }[];
  nodes: {
    id: string;
    hostname: string;
    address: string;
    state: string;
    availability: string;
    message: string;
    platform: string;
    cpus: { reserved: number; capacity: number };
    memory: { reserved: number; capacity: number };
    tasks: { id: string; name: string; service: string; state: string; desired: string }[];
  }[];
  services: {
    id: string;
    name: string;
    mode: string;
    image: string;
    desired: number;
    running: number;
    update: { state: string; message: string } | null;
    canRollback: boolean;
  }[];
  unassigned: { id: string; name: string; state: string; message: string }[];
  events: { time: number; type: string; action: string; name: string; attributes: Record<string, string> }[];
}

/** Events each service card shows, and the page's own log. */
const RECENT_EVENTS = 50;

export function dashboardView(state: StateMachine, members: { leader: string; members: ClusterMember[] }, self: string, recent: ClusterEvent[]): DashboardView {
  const reserved = reservedByTasks(state.tasks.values());
  const live = [...state.tasks.values()].filter((task) => task.desiredState === 'RUNNING');
  const name = (task: { serviceName: string; slot: number; nodeId: string }) => `${task.serviceName}.${task.slot || task.nodeId}`;
  const nodes = [...state.nodes.values()]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((node) => {
      const capacity = nodeCapacity(node);
      const used = reserved.get(node.id) ?? ZERO;
      return {
        id: node.id,
        hostname: node.description?.hostname ?? '',
        address: node.address,
        state: node.state.toLowerCase(),
        availability: node.availability.toLowerCase(),
        message: node.message,
        platform: [node.description?.platform?.os, node.description?.platform?.architecture].filter(Boolean).join('/'),
        cpus: { reserved: cpusOf(used.cpuMicros), capacity: cpusOf(capacity.cpuMicros) },
        memory: { reserved: used.memoryBytes, capacity: capacity.memoryBytes },
        tasks: live
          .filter((task) => task.nodeId === node.id)
          .sort((a, b) => name(a).localeCompare(name(b)))
          .map((task) => ({ id: task.id, name: name(task), service: task.serviceName, state: task.status!.state.toLowerCase(), desired: task.desiredState.toLowerCase() })),
      };
    });
  const services = [...state.services.values()]
    .sort((a, b) => a.spec!.name.localeCompare(b.spec!.name))
    .map((service) => ({
      id: service.id,
      name: service.spec!.name,
      mode: service.spec!.mode.toLowerCase(),
      image: service.spec!.container?.image ?? '',
      desired: service.spec!.mode === 'GLOBAL' ? globalDesiredCount(state, service) : service.spec!.replicas,
      running: countTasks(state, service).running,
      update: service.updateStatus ? { state: service.updateStatus.state, message: service.updateStatus.message } : null,
      canRollback: service.previousSpec !== null && service.previousSpec !== undefined,
    }));
  // Tasks waiting for a node, with the reason placement gave: what a person needs to act on.
  const unassigned = live
    .filter((task) => task.nodeId === '' || task.status!.state === 'PENDING')
    .map((task) => ({ id: task.id, name: name(task), state: task.status!.state.toLowerCase(), message: task.status!.err || task.status!.message }));
  return {
    self,
    leader: members.leader,
    members: members.members.map((member) => ({ id: member.id, address: member.address, role: member.role, reachable: member.reachable })),
    nodes,
    services,
    unassigned,
    events: recent.slice(-RECENT_EVENTS).map((event) => ({ time: Number(event.timeMs), type: event.type, action: event.action, name: event.name, attributes: event.attributes })),
  };
}
