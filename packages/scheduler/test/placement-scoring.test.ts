import { describe, expect, it } from 'vitest';
import { fitScore, nodeScore, SAME_SERVICE_PENALTY } from '../src/placement/scoring';
import { explainNoNode, explainOnNode, formatCpus } from '../src/placement/explain';
import { GiB, MiB } from './placement-fixtures';

describe('fit scores', () => {
  it('binpack prefers the fuller node and spread the emptier', () => {
    // Both nodes 4 cores / 4 GiB; after placing, one has 1 core and 1 GiB free, the other 3 and 3.
    const full = (strategy: 'binpack' | 'spread') => fitScore(strategy, 4, 4 * GiB, 1, 1 * GiB);
    const empty = (strategy: 'binpack' | 'spread') => fitScore(strategy, 4, 4 * GiB, 3, 3 * GiB);
    expect(full('binpack')).toBeGreaterThan(empty('binpack'));
    expect(empty('spread')).toBeGreaterThan(full('spread'));
    expect(full('binpack')).toBeCloseTo(0.75);
    expect(empty('spread')).toBeCloseTo(0.75);
  });

  it('score CPU and memory together: a node left balanced beats one with a single resource exhausted', () => {
    // Same total free share (50%), but one node has all its CPU free and no memory.
    const balanced = fitScore('binpack', 4, 4 * GiB, 2, 2 * GiB);
    const lopsided = fitScore('binpack', 4, 4 * GiB, 4, 0);
    expect(balanced).toBeGreaterThan(lopsided);
  });

  it('lie between 0 and 1 and leave out a resource the node reports none of', () => {
    expect(fitScore('binpack', 4, 4 * GiB, 0, 0)).toBe(1);
    expect(fitScore('binpack', 4, 4 * GiB, 4, 4 * GiB)).toBe(0);
    expect(fitScore('binpack', 0, 4 * GiB, 0, 1 * GiB)).toBeCloseTo(0.75);
    expect(fitScore('spread', 0, 0, 0, 0)).toBe(1);
  });

  it('charge each replica of the same service already on the node more than any fit difference', () => {
    expect(SAME_SERVICE_PENALTY).toBeGreaterThan(1);
    expect(nodeScore(0, 0)).toBeGreaterThan(nodeScore(1, 1));
    expect(nodeScore(0.5, 1)).toBeGreaterThan(nodeScore(0.9, 2));
  });
});

describe('explanations', () => {
  it('count nodes per reason, commonest first, with the most free amount of a resource', () => {
    const text = explainNoNode([
      { kind: 'constraint', constraint: 'node.labels.zone==a' },
      { kind: 'memory', need: 512 * MiB, free: 300 * MiB },
      { kind: 'memory', need: 512 * MiB, free: 100 * MiB },
    ]);
    expect(text).toBe('no suitable node: 2 nodes lack memory (need 512MiB, most free 300MiB), 1 node fails constraint node.labels.zone==a');
  });

  it('name every kind of reason a person can act on, ties in filter order', () => {
    expect(
      explainNoNode([
        { kind: 'not-ready' },
        { kind: 'paused' },
        { kind: 'drained' },
        { kind: 'constraint', constraint: 'node.platform.arch==amd64' },
        { kind: 'constraint', constraint: 'node.labels.zone==a' },
        { kind: 'max-per-node', limit: 1 },
        { kind: 'cpu', needMicros: 2_000_000, freeMicros: 1_500_000 },
      ]),
    ).toBe(
      'no suitable node: 1 node is not ready, 1 node is paused, 1 node is drained, ' +
        '1 node fails constraint node.platform.arch==amd64, 1 node fails constraint node.labels.zone==a, ' +
        '1 node already runs 1 task of this service (max-per-node 1), 1 node lacks CPU (need 2 CPUs, most free 1.5 CPUs)',
    );
  });

  it('say so when no node has joined', () => {
    expect(explainNoNode([])).toBe('no suitable node: no nodes have joined');
  });

  it('for a task bound to a node, name the node and what it has free', () => {
    expect(explainOnNode('pi-3', { kind: 'memory', need: 512 * MiB, free: 300 * MiB })).toBe('node pi-3 lacks memory (need 512MiB, free 300MiB)');
    expect(explainOnNode('pi-3', { kind: 'paused' })).toBe('node pi-3 is paused');
  });

  it('print CPU amounts as people write them', () => {
    expect(formatCpus(1_000_000)).toBe('1 CPU');
    expect(formatCpus(250_000)).toBe('0.25 CPUs');
    expect(formatCpus(1_333_333)).toBe('1.333 CPUs');
  });
});
