import { describe, expect, it } from 'vitest';
import type { Node } from '@pisched/api';
import { reconcileGlobal, globalDesiredCount } from '../src/orchestrator/global';
import { reconcileReplicated } from '../src/orchestrator/replicated';
import { reapTasks, TASK_HISTORY_PER_SLOT } from '../src/orchestrator/task-reaper';
import { placePendingTasks } from '../src/placement/placement';
import type { StateMachine } from '../src/store/state-machine';
import { applyActions, testClock } from './fixtures';
import { cluster, GiB, liveTasks, perNode, putNodes, putService, report, serviceSpec, settle, sizedNode, type ServiceShape } from './placement-fixtures';

function setup(nodes: Node[], shape: ServiceShape = {}) {
  const { machine } = cluster();
  const clock = testClock();
  putNodes(machine, ...nodes);
  putService(machine, 'agent', serviceSpec('agent', { ...shape, mode: 'GLOBAL' }));
  const run = () =>
    settle(machine, [(m) => reconcileReplicated(m, clock), (m) => reconcileGlobal(m, clock), (m) => placePendingTasks(m, clock), (m) => reapTasks(m)]);
  run();
  return { machine, run, clock };
}

const placed = (machine: StateMachine) => perNode(liveTasks(machine, 'agent'));

describe('global orchestrator', () => {
  it('runs one task, slot 0, on every ready, active node that satisfies the constraints', () => {
    const { machine } = setup(
      [
        sizedNode('n1', { labels: { role: 'edge' } }),
        sizedNode('n2', { labels: { role: 'edge' } }),
        sizedNode('n3', { labels: { role: 'core' } }),
        sizedNode('n4', { labels: { role: 'edge' }, availability: 'PAUSE' }),
        sizedNode('n5', { labels: { role: 'edge' }, state: 'DOWN' }),
      ],
      { constraints: ['node.labels.role==edge'] },
    );
    expect(placed(machine)).toEqual({ n1: 1, n2: 1 });
    expect(liveTasks(machine, 'agent').every((task) => task.slot === 0 && task.status!.state === 'ASSIGNED')).toBe(true);
    expect(globalDesiredCount(machine, machine.services.get('agent')!)).toBe(2);
  });

  it('follows a node that joins later, and one that becomes ready', () => {
    const { machine, run } = setup([sizedNode('n1'), sizedNode('n2', { state: 'DOWN' })]);
    expect(placed(machine)).toEqual({ n1: 1 });
    putNodes(machine, sizedNode('n3'), sizedNode('n2'));
    run();
    expect(placed(machine)).toEqual({ n1: 1, n2: 1, n3: 1 });
  });

  it('shuts the task down on a drained node and on one that no longer satisfies the constraints', () => {
    const { machine, run } = setup(
      [sizedNode('n1', { labels: { role: 'edge' } }), sizedNode('n2', { labels: { role: 'edge' } }), sizedNode('n3', { labels: { role: 'edge' } })],
      { constraints: ['node.labels.role==edge'] },
    );
    const before = liveTasks(machine, 'agent');
    putNodes(machine, sizedNode('n1', { labels: { role: 'edge' }, availability: 'DRAIN' }), sizedNode('n2', { labels: { role: 'edge' }, userLabels: { role: 'core' } }));
    run();
    expect(placed(machine)).toEqual({ n3: 1 });
    for (const id of ['n1', 'n2']) {
      const old = before.find((task) => task.nodeId === id)!;
      expect(machine.tasks.get(old.id)!.desiredState).toBe('SHUTDOWN');
    }
  });

  it('keeps the task of a paused or down node, but gives a paused node no new one', () => {
    const { machine, run } = setup([sizedNode('n1'), sizedNode('n2')]);
    const [onN1, onN2] = liveTasks(machine, 'agent');
    putNodes(machine, sizedNode('n1', { availability: 'PAUSE' }), sizedNode('n2', { state: 'DOWN' }));
    run();
    expect(machine.tasks.get(onN1.id)!.desiredState).toBe('RUNNING');
    expect(machine.tasks.get(onN2.id)!.desiredState).toBe('RUNNING');
    report(machine, onN1, 'FAILED');
    run();
    expect(liveTasks(machine, 'agent').filter((task) => task.nodeId === 'n1' && task.status!.state !== 'FAILED')).toEqual([]);
  });

  it('replaces a task that ended with a new one on the same node, after the restart delay', () => {
    const { machine, run, clock } = setup([sizedNode('n1')]);
    const [first] = liveTasks(machine, 'agent');
    report(machine, first, 'FAILED');
    run();
    expect(liveTasks(machine, 'agent').map((task) => task.id)).toEqual([first.id]);
    clock.advance(5_000);
    run();
    const [replacement] = liveTasks(machine, 'agent');
    expect(replacement.id).not.toBe(first.id);
    expect(replacement.nodeId).toBe('n1');
    expect(machine.tasks.get(first.id)!.desiredState).toBe('SHUTDOWN');
  });

  it('leaves its task pending on a node without room, says why, and starts it once room appears', () => {
    const fresh = setup([sizedNode('n1', { memory: 1 * GiB })], { memory: 2 * GiB });
    const [waiting] = liveTasks(fresh.machine, 'agent');
    expect(waiting.nodeId).toBe('n1');
    expect(waiting.status!.state).toBe('PENDING');
    expect(waiting.status!.err).toBe('node n1 lacks memory (need 2GiB, free 1GiB)');
    putNodes(fresh.machine, sizedNode('n1', { memory: 4 * GiB }));
    fresh.run();
    expect(liveTasks(fresh.machine, 'agent')[0].status!.state).toBe('ASSIGNED');
  });

  it('retires the slot tasks of a service that turned global from replicated', () => {
    const { machine } = cluster();
    const clock = testClock();
    const run = () => settle(machine, [(m) => reconcileReplicated(m, clock), (m) => reconcileGlobal(m, clock), (m) => placePendingTasks(m, clock), (m) => reapTasks(m)]);
    putNodes(machine, sizedNode('n1'), sizedNode('n2'));
    putService(machine, 'svc', serviceSpec('svc', { replicas: 3 }));
    run();
    putService(machine, 'svc', serviceSpec('svc', { mode: 'GLOBAL' }));
    run();
    expect(liveTasks(machine, 'svc').map((task) => [task.slot, task.nodeId])).toEqual([[0, 'n1'], [0, 'n2']]);
  });

  it('keeps the task history of each node, not of all nodes together', () => {
    const { machine } = setup([sizedNode('n1'), sizedNode('n2')]);
    const [template] = liveTasks(machine, 'agent');
    for (const nodeId of ['n1', 'n2']) {
      for (let i = 0; i < 7; i++) {
        const id = `dead-${nodeId}-${i}`;
        machine.tasks.set(id, {
          ...template,
          id,
          nodeId,
          desiredState: 'SHUTDOWN',
          meta: { version: 1, createdAt: i, updatedAt: i },
          status: { ...template.status!, state: 'FAILED' },
        });
      }
    }
    applyActions(machine, reapTasks(machine));
    const kept = [...machine.tasks.values()].filter((task) => task.id.startsWith('dead-'));
    expect(kept.filter((task) => task.nodeId === 'n1')).toHaveLength(TASK_HISTORY_PER_SLOT);
    expect(kept.filter((task) => task.nodeId === 'n2')).toHaveLength(TASK_HISTORY_PER_SLOT);
  });
});
