import { describe, expect, it } from 'vitest';
import { reconcileReplicated } from '../src/orchestrator/replicated';
import { reapTasks } from '../src/orchestrator/task-reaper';
import { placePendingTasks } from '../src/placement/placement';
import type { StateMachine } from '../src/store/state-machine';
import { testClock } from './fixtures';
import { cluster, GiB, liveTasks, perNode, putNodes, putService, report, serviceSpec, settle, sizedNode } from './placement-fixtures';

function start(...nodes: ReturnType<typeof sizedNode>[]) {
  const { machine } = cluster();
  const clock = testClock();
  putNodes(machine, ...nodes);
  const run = () => settle(machine, [(m) => reconcileReplicated(m, clock), (m) => placePendingTasks(m, clock), (m) => reapTasks(m)]);
  return { machine, run };
}

const running = (machine: StateMachine, id: string) => {
  for (const task of liveTasks(machine, id)) if (task.status!.state === 'ASSIGNED') report(machine, task, 'RUNNING');
};

describe('node availability', () => {
  it('drain shuts the node\'s tasks down and replaces them elsewhere at once, honouring constraints and resources', () => {
    const { machine, run } = start(
      sizedNode('n1', { labels: { zone: 'a' } }),
      sizedNode('n2', { labels: { zone: 'a' }, memory: 1 * GiB }),
      sizedNode('n3', { labels: { zone: 'b' } }),
    );
    putService(machine, 'web', serviceSpec('web', { replicas: 2, memory: 1 * GiB, constraints: ['node.labels.zone==a'] }));
    run();
    running(machine, 'web');
    expect(perNode(liveTasks(machine, 'web'))).toEqual({ n1: 1, n2: 1 });
    const onN2 = liveTasks(machine, 'web').find((task) => task.nodeId === 'n2')!;

    putNodes(machine, sizedNode('n2', { labels: { zone: 'a' }, memory: 1 * GiB, availability: 'DRAIN' }));
    run();
    expect(machine.tasks.get(onN2.id)!.desiredState).toBe('SHUTDOWN');
    // n3 has room but the wrong zone; n1 is the only place left.
    expect(perNode(liveTasks(machine, 'web'))).toEqual({ n1: 2 });
    const replacement = liveTasks(machine, 'web').find((task) => task.slot === onN2.slot)!;
    expect(replacement.restarts).toBe(onN2.restarts);
  });

  it('drain leaves a task pending with the reason when nowhere else has room', () => {
    const { machine, run } = start(sizedNode('n1', { memory: 1 * GiB }), sizedNode('n2', { memory: 1 * GiB }));
    putService(machine, 'web', serviceSpec('web', { replicas: 2, memory: 1 * GiB }));
    run();
    running(machine, 'web');
    putNodes(machine, sizedNode('n1', { memory: 1 * GiB, availability: 'DRAIN' }));
    run();
    const pending = liveTasks(machine, 'web').find((task) => task.status!.state === 'PENDING')!;
    expect(pending.status!.err).toBe('no suitable node: 1 node is drained, 1 node lacks memory (need 1GiB, most free 0B)');
  });

  it('pause keeps running tasks where they are and only stops new placements', () => {
    const { machine, run } = start(sizedNode('n1'), sizedNode('n2'));
    putService(machine, 'web', serviceSpec('web', { replicas: 2 }));
    run();
    running(machine, 'web');
    const before = liveTasks(machine, 'web').map((task) => task.id);
    putNodes(machine, sizedNode('n1', { availability: 'PAUSE' }));
    run();
    expect(liveTasks(machine, 'web').map((task) => task.id)).toEqual(before);
    putService(machine, 'web', serviceSpec('web', { replicas: 3 }));
    run();
    expect(liveTasks(machine, 'web').find((task) => task.slot === 3)!.nodeId).toBe('n2');
  });

  it('a task whose node no longer satisfies the constraints is moved', () => {
    const { machine, run } = start(sizedNode('n1', { labels: { zone: 'a' } }), sizedNode('n2', { labels: { zone: 'a' } }));
    putService(machine, 'web', serviceSpec('web', { replicas: 1, constraints: ['node.labels.zone==a'] }));
    run();
    running(machine, 'web');
    const [first] = liveTasks(machine, 'web');
    const other = first.nodeId === 'n1' ? 'n2' : 'n1';
    putNodes(machine, sizedNode(first.nodeId, { labels: { zone: 'a' }, userLabels: { zone: 'b' } }));
    run();
    expect(liveTasks(machine, 'web').map((task) => task.nodeId)).toEqual([other]);
  });

  it('a replicated service that was global retires its slot-0 tasks', () => {
    const { machine, run } = start(sizedNode('n1'));
    putService(machine, 'svc', serviceSpec('svc', { replicas: 1 }));
    run();
    const [task] = liveTasks(machine, 'svc');
    // As the global orchestrator leaves them: bound to a node, slot 0.
    machine.tasks.set('stray', { ...task, id: 'stray', slot: 0 });
    run();
    expect(machine.tasks.get('stray')!.desiredState).toBe('REMOVE');
    expect(liveTasks(machine, 'svc').map((t) => t.slot)).toEqual([1]);
  });
});
