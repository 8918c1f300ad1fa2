import { describe, expect, it } from 'vitest';
import { isPlacementStrategy, parseConstraint, parseSpreadDescriptor } from '../src/placement-rules';
import { SpecError, validateServiceSpec } from '../src/service-spec';
import type { ServiceSpecInput } from '../src/types';

const base = (extra: ServiceSpecInput = {}): ServiceSpecInput => ({
  name: 'web',
  replicas: 2,
  container: { image: 'pisched-test/busybox:latest' },
  ...extra,
});

describe('constraint syntax', () => {
  it('reads FIELD==VALUE and FIELD!=VALUE on every supported field, spaces allowed around the operator', () => {
    expect(parseConstraint('node.labels.zone==a')).toEqual({ field: 'node.labels.zone', labelKey: 'zone', operator: '==', value: 'a', text: 'node.labels.zone==a' });
    expect(parseConstraint(' node.hostname != pi-1 ')).toMatchObject({ field: 'node.hostname', operator: '!=', value: 'pi-1', text: 'node.hostname!=pi-1' });
    expect(parseConstraint('node.id==n1').field).toBe('node.id');
    expect(parseConstraint('node.platform.arch==arm/v7').value).toBe('arm/v7');
    expect(parseConstraint('node.platform.os==linux').field).toBe('node.platform.os');
    expect(parseConstraint('node.labels.com.example/tier==gold').labelKey).toBe('com.example/tier');
  });

  it.each([
    ['node.labels.zone=a', /expected FIELD==VALUE or FIELD!=VALUE/],
    ['zone==a', /unknown field "zone"/],
    ['node.memory==1G', /unknown field "node.memory"/],
    ['node.labels.==a', /"" is not a valid label key/],
    ['node.labels.zone==', /the value is empty/],
    ['node.labels.zone==a==b', /more than one operator/],
    ['', /expected FIELD==VALUE/],
  ])('refuses %j', (text, message) => {
    expect(() => parseConstraint(text)).toThrow(SpecError);
    expect(() => parseConstraint(text)).toThrow(message);
  });
});

describe('spread descriptors and strategies', () => {
  it('spread over node labels only', () => {
    expect(parseSpreadDescriptor('node.labels.rack')).toBe('rack');
    expect(() => parseSpreadDescriptor('node.hostname')).toThrow(/expected node.labels.<key>/);
    expect(() => parseSpreadDescriptor('node.labels.')).toThrow(/not a valid label key/);
  });

  it('knows binpack and spread', () => {
    expect(isPlacementStrategy('binpack')).toBe(true);
    expect(isPlacementStrategy('spread')).toBe(true);
    expect(isPlacementStrategy('random')).toBe(false);
  });
});

describe('validateServiceSpec: placement', () => {
  it('stores placement in canonical form', () => {
    const spec = validateServiceSpec(
      base({ placement: { constraints: [' node.labels.zone == a '], spread: ['node.labels.rack'], maxPerNode: 2, strategy: 'Spread' } }),
    );
    expect(spec.placement).toEqual({ constraints: ['node.labels.zone==a'], spread: ['node.labels.rack'], maxPerNode: 2, strategy: 'spread', platforms: [] });
  });

  it('fills an empty placement', () => {
    expect(validateServiceSpec(base()).placement).toEqual({ constraints: [], spread: [], maxPerNode: 0, strategy: '', platforms: [] });
  });

  it.each<[string, ServiceSpecInput, RegExp]>([
    ['a malformed constraint', base({ placement: { constraints: ['zone=a'] } }), /invalid constraint "zone=a"/],
    ['a spread on something else than a label', base({ placement: { spread: ['node.id'] } }), /invalid spread "node.id"/],
    ['an unknown strategy', base({ placement: { strategy: 'random' } }), /invalid placement strategy "random": use binpack or spread/],
    ['a fractional max-per-node', base({ placement: { maxPerNode: 1.5 } }), /invalid max-per-node "1.5"/],
  ])('refuses %s with one line', (_what, input, message) => {
    expect(() => validateServiceSpec(input)).toThrow(message);
  });

  it('accepts global mode and ignores replicas for it', () => {
    const spec = validateServiceSpec(base({ mode: 'GLOBAL', replicas: 7 }));
    expect(spec.mode).toBe('GLOBAL');
    expect(spec.replicas).toBe(0);
    expect(validateServiceSpec(base({ mode: 1 })).mode).toBe('GLOBAL');
  });

  it('keeps noLimits', () => {
    expect(validateServiceSpec(base({ noLimits: true })).noLimits).toBe(true);
    expect(validateServiceSpec(base()).noLimits).toBe(false);
  });
});
