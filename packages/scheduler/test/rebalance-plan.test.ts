import { describe, expect, it } from 'vitest';
import type { StateMachine } from '../src/store/state-machine';
import { placePendingTasks } from '../src/placement/placement';
import { reconcileReplicated } from '../src/orchestrator/replicated';
import { rebalanceServices } from '../src/updater/rebalance';
import { testClock } from './fixtures';
import { cluster, GiB, liveTasks, perNode, putNodes, putService, report, serviceSpec, settle, sizedNode, type ServiceShape } from './placement-fixtures';

const clock = testClock(10_000);

function place(machine: StateMachine, id: string, shape: ServiceShape) {
  putService(machine, id, serviceSpec(id, shape));
  settle(machine, [(m) => reconcileReplicated(m, clock), (m) => placePendingTasks(m, clock)]);
  for (const task of liveTasks(machine, id)) if (task.status!.state === 'ASSIGNED') report(machine, task, 'RUNNING');
}

const plan = (machine: StateMachine, ...ids: string[]) =>
  rebalanceServices(machine, ids.map((id) => machine.services.get(id)!), clock.now(), 'binpack');

describe('rebalance plans', () => {
  it('spread: moves replicas from the fullest nodes to a node that came back, until no two differ by two', () => {
    const { machine } = cluster();
    putNodes(machine, sizedNode('n1'), sizedNode('n2'));
    place(machine, 'web', { replicas: 6, strategy: 'spread' });
    expect(perNode(liveTasks(machine, 'web'))).toEqual({ n1: 3, n2: 3 });
    putNodes(machine, sizedNode('n3'));

    const result = plan(machine, 'web');
    expect(result.moves.map((move) => [move.fromNode, move.toNode])).toEqual([['n1', 'n3'], ['n2', 'n3']]);
    expect(result.moves[0].reason).toBe('node n1 holds 3 replicas, node n3 0');
    // The moves are marked on the tasks; the service's update status says it is a rebalance.
    const marked = result.actions.filter((action) => action.putTask?.rebalance);
    expect(marked).toHaveLength(2);
    const status = result.actions.find((action) => action.putService)!.putService!.updateStatus!;
    expect(status).toMatchObject({ state: 'updating', rebalance: true, message: 'rebalancing: moving 2 tasks' });
  });

  it('spread: a difference of one is balanced, so nothing flaps', () => {
    const { machine } = cluster();
    putNodes(machine, sizedNode('n1'), sizedNode('n2'));
    place(machine, 'web', { replicas: 3, strategy: 'spread' });
    const result = plan(machine, 'web');
    expect(result.moves).toEqual([]);
    expect(result.notes).toEqual(['web: already balanced (spread)']);
    expect(result.actions).toEqual([]);
  });

  it('spread: never moves a task to a node that fails its constraints or lacks room', () => {
    const { machine } = cluster();
    putNodes(machine, sizedNode('n1', { labels: { zone: 'a' } }), sizedNode('n2', { labels: { zone: 'a' } }));
    place(machine, 'web', { replicas: 4, strategy: 'spread', memory: 1 * GiB, constraints: ['node.labels.zone==a'] });
    putNodes(machine, sizedNode('n3', { labels: { zone: 'b' } }), sizedNode('n4', { labels: { zone: 'a' }, memory: 512 * 1024 * 1024 }));
    expect(plan(machine, 'web').moves).toEqual([]);
  });

  it('binpack: empties the emptiest node when all its tasks fit elsewhere, and leaves a node that holds other work', () => {
    const { machine } = cluster();
    putNodes(machine, sizedNode('n1', { memory: 4 * GiB }), sizedNode('n2', { memory: 4 * GiB }), sizedNode('n3', { memory: 4 * GiB }));
    // spread first, so the replicas sit on every node; then judge them as binpack.
    place(machine, 'web', { replicas: 3, strategy: 'spread', memory: 1 * GiB });
    place(machine, 'db', { replicas: 1, memory: 1 * GiB, constraints: ['node.id==n3'] });
    expect(perNode(liveTasks(machine))).toEqual({ n1: 1, n2: 1, n3: 2 });
    const result = rebalanceServices(machine, [{ ...machine.services.get('web')!, spec: { ...machine.services.get('web')!.spec!, placement: { ...machine.services.get('web')!.spec!.placement!, strategy: 'binpack' } } }], clock.now(), 'binpack');
    // n1 goes onto the fullest node that fits (n3, which also holds db); n2 then joins them; n3 keeps db and is not freed.
    expect(result.moves.map((move) => [move.fromNode, move.toNode, move.reason])).toEqual([
      ['n1', 'n3', 'frees node n1'],
      ['n2', 'n3', 'frees node n2'],
    ]);
  });

  it('leaves a service whose update is under way, with a note', () => {
    const { machine } = cluster();
    putNodes(machine, sizedNode('n1'));
    place(machine, 'web', { replicas: 2, strategy: 'spread' });
    const service = machine.services.get('web')!;
    const busy = { ...service, updateStatus: { state: 'updating', startedAt: 1, completedAt: 0, message: '', resumedAt: 0, rebalance: false, rolledOutAt: 0 } };
    expect(rebalanceServices(machine, [busy], clock.now(), 'spread').notes).toEqual(['web: not rebalanced: an update is in progress']);
  });
});
