import { describe, expect, it } from 'vitest';
import { buildRunSpec } from '../src/commands/run';
import { buildUpdatedSpec } from '../src/commands/update';
import { buildNodeUpdate } from '../src/commands/node-update';
import { pendingTasks, renderPending } from '../src/commands/inspect';
import { renderPlan } from '../src/plan-view';
import { assessGlobal } from '../src/converge-global';
import { CliError } from '../src/errors';
import { task } from './fixtures';

describe('run: placement flags', () => {
  it('puts constraints, spread, max-per-node, strategy and --no-limits into the spec', () => {
    const spec = buildRunSpec('busybox', [], {
      name: 'web',
      constraint: ['node.labels.zone==a', 'node.platform.arch != amd64'],
      spread: ['node.labels.rack'],
      maxPerNode: '2',
      placementStrategy: 'spread',
      limits: false,
    });
    expect(spec.placement).toEqual({
      constraints: ['node.labels.zone==a', 'node.platform.arch!=amd64'],
      spread: ['node.labels.rack'],
      maxPerNode: 2,
      strategy: 'spread',
      platforms: [],
    });
    expect(spec.noLimits).toBe(true);
    expect(buildRunSpec('busybox', [], { name: 'web' }).noLimits).toBe(false);
  });

  it('makes a global service with no replica count', () => {
    const spec = buildRunSpec('busybox', [], { name: 'agent', mode: 'global' });
    expect(spec.mode).toBe('GLOBAL');
    expect(spec.replicas).toBe(0);
    expect(buildRunSpec('busybox', [], { name: 'web' }).replicas).toBe(1);
  });

  it('refuses a replica count for a global service, as Docker does, rather than dropping it', () => {
    expect(() => buildRunSpec('busybox', [], { name: 'agent', mode: 'global', replicas: '3' })).toThrow(
      new CliError('--replicas cannot be used with --mode global: a global service runs one task on every eligible node and takes no replica count'),
    );
  });

  it.each([
    [{ constraint: ['zone==a'] }, 'invalid constraint "zone==a": unknown field "zone"; use node.id, node.hostname, node.platform.arch, node.platform.os or node.labels.<key>'],
    [{ constraint: ['node.labels.zone=a'] }, 'invalid constraint "node.labels.zone=a": expected FIELD==VALUE or FIELD!=VALUE, e.g. node.labels.zone==a'],
    [{ spread: ['rack'] }, 'invalid spread "rack": expected node.labels.<key>, e.g. node.labels.rack'],
    [{ maxPerNode: '-1' }, 'invalid --max-per-node "-1": must be a whole number, 0 or more'],
    [{ placementStrategy: 'random' }, 'invalid placement strategy "random": use binpack or spread'],
  ])('refuses bad placement input with one line: %j', (extra, message) => {
    expect(() => buildRunSpec('busybox', [], { name: 'web', ...extra })).toThrow(CliError);
    expect(() => buildRunSpec('busybox', [], { name: 'web', ...extra })).toThrow(message);
  });
});

describe('node update flags', () => {
  it('reads availability and label changes', () => {
    expect(buildNodeUpdate({ availability: 'Drain', labelAdd: ['zone=a', 'ssd'], labelRm: ['old'] })).toEqual({
      availability: 'drain',
      labelAdd: { zone: 'a', ssd: '' },
      labelRm: ['old'],
    });
  });

  it.each([
    [{ availability: 'off' }, 'invalid availability "off": use active, pause or drain'],
    [{ labelAdd: ['=x'] }, 'invalid label "=x"'],
    [{ labelRm: ['bad key'] }, 'invalid label key "bad key" for --label-rm'],
    [{ labelAdd: ['a=1'], labelRm: ['a'] }, 'label a is both added and removed'],
    [{}, 'nothing to update: give --availability, --label-add or --label-rm'],
  ])('refuses %j with one line', (options, message) => {
    expect(() => buildNodeUpdate(options)).toThrow(message);
  });
});

describe('dry-run plan', () => {
  it('lists each task with its node or the reason, and says nothing changed', () => {
    expect(
      renderPlan([
        { slot: 1, node: 'pi-1', reason: '' },
        { slot: 2, node: '', reason: 'no suitable node: 2 nodes lack memory (need 1GiB, most free 512MiB)' },
      ]),
    ).toBe(
      'SLOT   NODE   REASON\n' +
        '1      pi-1\n' +
        '2      -      no suitable node: 2 nodes lack memory (need 1GiB, most free 512MiB)\n' +
        'dry run: 1 of 2 tasks can be placed; nothing was changed\n',
    );
  });

  it('says so when an update creates no task', () => {
    expect(renderPlan([])).toBe('dry run: no new tasks; nothing was changed\n');
  });

  it('shows global tasks without a slot', () => {
    expect(renderPlan([{ slot: 0, node: 'pi-1', reason: '' }])).toContain('\n-      pi-1\n');
  });
});

describe('pending reasons', () => {
  it('inspect lists the tasks still waiting for a node and why', () => {
    const tasks = [
      task({ slot: 2, nodeId: '', state: 'PENDING', err: 'no suitable node: 1 node is drained' }),
      task({ slot: 1, state: 'RUNNING' }),
      task({ slot: 3, nodeId: '', state: 'PENDING', err: 'old reason', desiredState: 'SHUTDOWN' }),
      task({ slot: 0, nodeId: 'pi-2', state: 'PENDING', err: 'node pi-2 lacks memory (need 1GiB, free 512MiB)' }),
    ];
    const pending = pendingTasks(tasks);
    expect(pending).toEqual([
      { slot: 0, node: 'pi-2', reason: 'node pi-2 lacks memory (need 1GiB, free 512MiB)' },
      { slot: 2, node: '', reason: 'no suitable node: 1 node is drained' },
    ]);
    expect(renderPending(pending)).toBe(
      '\nPending tasks:\n  node pi-2: node pi-2 lacks memory (need 1GiB, free 512MiB)\n  slot 2: no suitable node: 1 node is drained\n',
    );
    expect(renderPending([])).toBe('');
  });
});

describe('global convergence', () => {
  it('counts one current task per node against the eligible nodes', () => {
    const tasks = [
      task({ id: 'a', slot: 0, nodeId: 'pi-1', state: 'RUNNING', at: 1 }),
      task({ id: 'b', slot: 0, nodeId: 'pi-2', state: 'PENDING', err: 'node pi-2 lacks memory (need 1GiB, free 512MiB)', at: 1 }),
      task({ id: 'c', slot: 0, nodeId: 'pi-1', state: 'FAILED', desiredState: 'SHUTDOWN', at: 0 }),
    ];
    const assessment = assessGlobal(2, tasks);
    expect(assessment.running).toBe(1);
    expect(assessment.allRunning).toBe(false);
    expect(assessment.lines).toEqual([
      'overall progress: 1 out of 2 tasks',
      'pi-1: running',
      'pi-2: pending (node pi-2 lacks memory (need 1GiB, free 512MiB))',
    ]);
    expect(assessGlobal(1, tasks.slice(0, 1)).allRunning).toBe(true);
    expect(assessGlobal(0, []).allRunning).toBe(true);
  });

  it('stops waiting when a new task is rejected', () => {
    const rejected = task({ id: 'r', slot: 0, nodeId: 'pi-1', state: 'REJECTED', err: 'no such image' });
    expect(assessGlobal(1, [rejected]).rejected).toEqual({ node: 'pi-1', err: 'no such image' });
    expect(assessGlobal(1, [rejected], new Set(['r'])).rejected).toBeUndefined();
  });
});

describe('update: placement flags', () => {
  const current = buildRunSpec('busybox', [], {
    name: 'web',
    constraint: ['node.labels.zone==a', 'node.platform.arch==arm64'],
    spread: ['node.labels.rack'],
    maxPerNode: '2',
  });

  it('adds and removes constraints and spread labels, compared in canonical form', () => {
    const spec = buildUpdatedSpec(current, {
      constraintRm: ['node.labels.zone == a'],
      constraintAdd: ['node.labels.zone==b', 'node.platform.arch==arm64'],
      spreadRm: ['node.labels.rack'],
      spreadAdd: ['node.labels.room'],
      maxPerNode: '0',
      placementStrategy: 'spread',
    });
    expect(spec.placement).toEqual({
      constraints: ['node.platform.arch==arm64', 'node.labels.zone==b'],
      spread: ['node.labels.room'],
      maxPerNode: 0,
      strategy: 'spread',
      platforms: [],
    });
  });

  it('leaves placement alone without placement flags, and refuses a malformed one with one line', () => {
    expect(buildUpdatedSpec(current, { replicas: '3' }).placement).toEqual(current.placement);
    expect(() => buildUpdatedSpec(current, { constraintAdd: ['zone=a'] })).toThrow(CliError);
    expect(() => buildUpdatedSpec(current, { constraintAdd: ['zone=a'] })).toThrow('invalid constraint "zone=a"');
  });
});
