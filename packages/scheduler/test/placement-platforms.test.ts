import { describe, expect, it } from 'vitest';
import type { Platform } from '@pisched/api';
import { nodeFacts } from '../src/placement/constraints';
import { platformFilter, staticFilters, type Rejection } from '../src/placement/filters';
import { explainNoNode, explainOnNode } from '../src/placement/explain';
import { placePendingTasks } from '../src/placement/placement';
import { planService } from '../src/placement/plan';
import { reconcileReplicated } from '../src/orchestrator/replicated';
import { globalDesiredCount, reconcileGlobal } from '../src/orchestrator/global';
import type { Pass } from '../src/orchestrator/control-loop';
import type { StateMachine } from '../src/store/state-machine';
import { testClock } from './fixtures';
import { cluster, liveTasks, perNode, putNodes, putService, report, serviceSpec, settle, sizedNode, type ServiceShape } from './placement-fixtures';

const amd64: Platform = { os: 'linux', architecture: 'amd64' };
const arm64: Platform = { os: 'linux', architecture: 'arm64' };
const armv7: Platform = { os: 'linux', architecture: 'arm/v7' };

const facts = (arch: string, os = 'linux') => nodeFacts(sizedNode('n', { arch, os }));

describe('platform filter', () => {
  it('lets any node through when the image\'s platforms are not known', () => {
    expect(platformFilter([], facts('aarch64'))).toBeUndefined();
  });

  it('takes a node that runs one of the platforms, whatever its engine calls its architecture', () => {
    expect(platformFilter([amd64], facts('x86_64'))).toBeUndefined();
    expect(platformFilter([amd64, arm64], facts('aarch64'))).toBeUndefined();
    expect(platformFilter([armv7], facts('aarch64'))).toBeUndefined();
    expect(platformFilter([armv7], facts('armv7l'))).toBeUndefined();
  });

  it('turns a node down with what it is and what the image needs', () => {
    expect(platformFilter([amd64], facts('aarch64'))).toEqual({ kind: 'platform', wanted: ['linux/amd64'], actual: 'linux/arm64' });
    expect(platformFilter([arm64], facts('armv7l'))).toEqual({ kind: 'platform', wanted: ['linux/arm64'], actual: 'linux/arm/v7' });
    expect(platformFilter([amd64], facts('x86_64', 'windows'))).toEqual({ kind: 'platform', wanted: ['linux/amd64'], actual: 'windows/amd64' });
    expect(platformFilter([amd64], facts(''))).toEqual({ kind: 'platform', wanted: ['linux/amd64'], actual: 'of unknown platform' });
  });

  it('comes after node state and before constraints', () => {
    const drained = sizedNode('n', { arch: 'aarch64', availability: 'DRAIN' });
    expect(staticFilters(drained, nodeFacts(drained), { constraints: [], platforms: [amd64], devices: [] })).toEqual({ kind: 'drained' });
  });
});

describe('platform explanations', () => {
  const arm = (actual = 'linux/arm64'): Rejection => ({ kind: 'platform', wanted: ['linux/amd64'], actual });

  it('count the nodes and say what they are', () => {
    expect(explainNoNode([arm(), arm()])).toBe("no suitable node: 2 nodes cannot run the image's platform linux/amd64 (they are linux/arm64)");
    expect(explainNoNode([arm()])).toBe("no suitable node: 1 node cannot run the image's platform linux/amd64 (it is linux/arm64)");
    expect(explainNoNode([arm(), arm('linux/arm/v7'), arm()])).toBe(
      "no suitable node: 3 nodes cannot run the image's platform linux/amd64 (they are linux/arm/v7, linux/arm64)",
    );
  });

  it('list every platform the image has, and sit among the other reasons', () => {
    const two: Rejection = { kind: 'platform', wanted: ['linux/amd64', 'linux/386'], actual: 'linux/arm64' };
    expect(explainNoNode([two, { kind: 'drained' }, { kind: 'drained' }])).toBe(
      "no suitable node: 2 nodes are drained, 1 node cannot run any of the image's platforms linux/amd64, linux/386 (it is linux/arm64)",
    );
    expect(explainOnNode('pi-1', arm())).toBe("node pi-1 cannot run the image's platform linux/amd64 (it is linux/arm64)");
  });
});

describe('placement with image platforms', () => {
  function setup(shape: ServiceShape, ...nodes: ReturnType<typeof sizedNode>[]) {
    const { machine, clock } = cluster();
    putNodes(machine, ...nodes);
    putService(machine, 'web', serviceSpec('web', shape));
    const run = () =>
      settle(machine, [(m) => reconcileReplicated(m, clock), (m) => reconcileGlobal(m, clock), (m) => placePendingTasks(m, clock)]);
    run();
    return { machine, run };
  }

  it('puts tasks only on nodes that run the image\'s platform', () => {
    const { machine } = setup({ replicas: 3, platforms: [amd64] }, sizedNode('pi-1', { arch: 'aarch64' }), sizedNode('x86', { arch: 'x86_64' }));
    expect(perNode(liveTasks(machine, 'web'))).toEqual({ x86: 3 });
  });

  it('leaves a task pending with the platform reason, then places it when a node that runs it joins', () => {
    const { machine, run } = setup({ platforms: [amd64] }, sizedNode('pi-1', { arch: 'aarch64' }), sizedNode('pi-2', { arch: 'arm64' }));
    const [waiting] = liveTasks(machine, 'web');
    expect(waiting.status!.state).toBe('PENDING');
    expect(waiting.status!.err).toBe("no suitable node: 2 nodes cannot run the image's platform linux/amd64 (they are linux/arm64)");
    putNodes(machine, sizedNode('x86', { arch: 'x86_64' }));
    run();
    const [placed] = liveTasks(machine, 'web');
    expect(placed.nodeId).toBe('x86');
    expect(placed.status!.state).toBe('ASSIGNED');
  });

  it('moves a task off a node that cannot run the platforms an update sets', () => {
    const { machine, run } = setup({}, sizedNode('a-arm', { arch: 'aarch64' }), sizedNode('b-x86', { arch: 'x86_64' }));
    const [first] = liveTasks(machine, 'web');
    expect(first.nodeId).toBe('a-arm');
    report(machine, first, 'RUNNING');
    putService(machine, 'web', serviceSpec('web', { platforms: [amd64] }));
    run();
    const live = liveTasks(machine, 'web');
    expect(live.map((task) => task.nodeId)).toEqual(['b-x86']);
    expect(machine.tasks.get(first.id)!.desiredState).toBe('SHUTDOWN');
  });

  it('gives a global service tasks only on nodes that run its platform', () => {
    const { machine } = setup(
      { mode: 'GLOBAL', platforms: [arm64] },
      sizedNode('pi-1', { arch: 'aarch64' }),
      sizedNode('pi-2', { arch: 'armv7l' }),
      sizedNode('x86', { arch: 'x86_64' }),
    );
    expect(perNode(liveTasks(machine, 'web'))).toEqual({ 'pi-1': 1 });
    expect(globalDesiredCount(machine, machine.services.get('web')!)).toBe(1);
  });

  it('shows the reason in a dry-run plan', () => {
    const { machine, clock } = cluster();
    putNodes(machine, sizedNode('pi-1', { arch: 'aarch64' }), sizedNode('x86', { arch: 'x86_64' }));
    const passes: Pass[] = [
      { name: 'orchestrator', run: (state: StateMachine) => reconcileReplicated(state, clock) },
      { name: 'placement', run: (state: StateMachine) => placePendingTasks(state, clock) },
    ];
    const plan = planService(machine, serviceSpec('web', { replicas: 1, platforms: [{ os: 'linux', architecture: 's390x' }] }), undefined, passes, testClock());
    expect(plan).toEqual([
      { slot: 1, nodeId: '', reason: "no suitable node: 2 nodes cannot run the image's platform linux/s390x (they are linux/amd64, linux/arm64)" },
    ]);
  });
});
