import { describe, expect, it } from 'vitest';
import { isSameTaskSpec, validateServiceSpec } from '../src';

const spec = (extra: object = {}) => validateServiceSpec({ name: 'web', container: { image: 'app:v1' }, ...extra });

describe('update and rollback configs', () => {
  it('default to Swarm\'s: parallelism 1, delay 0, pause, monitor 5s, ratio 0, stop-first', () => {
    const defaults = { parallelism: 1, delayMs: 0, failureAction: 'pause', monitorMs: 5000, maxFailureRatio: 0, order: 'stop-first' };
    expect(spec().updateConfig).toEqual(defaults);
    expect(spec().rollbackConfig).toEqual(defaults);
  });

  it('take a given config as it is (0 means 0), filling only empty strings', () => {
    expect(spec({ updateConfig: { parallelism: 0, monitorMs: 0, maxFailureRatio: 0.5, order: 'start-first' } }).updateConfig).toEqual({
      parallelism: 0, delayMs: 0, failureAction: 'pause', monitorMs: 0, maxFailureRatio: 0.5, order: 'start-first',
    });
  });

  it('refuse bad values with one line each; a rollback cannot roll back', () => {
    expect(() => spec({ updateConfig: { order: 'random' } })).toThrow('invalid update order "random": use stop-first or start-first');
    expect(() => spec({ updateConfig: { failureAction: 'retry' } })).toThrow('invalid update failure action "retry": use pause, continue or rollback');
    expect(() => spec({ updateConfig: { maxFailureRatio: 1.5 } })).toThrow('invalid update max failure ratio "1.5": must be from 0 to 1');
    expect(() => spec({ rollbackConfig: { failureAction: 'rollback' } })).toThrow('invalid rollback failure action "rollback": use pause or continue');
  });
});

describe('container stop and health options', () => {
  it('are filled in, signals upper-cased; an absent health check stays absent', () => {
    expect(spec().container).toMatchObject({ stopSignal: '', stopGracePeriodMs: 0, init: false, healthcheck: null });
    expect(spec({ container: { image: 'x', stopSignal: 'sigint' } }).container!.stopSignal).toBe('SIGINT');
    expect(() => spec({ container: { image: 'x', stopSignal: 'SIG INT' } })).toThrow('invalid stop signal "SIG INT": use a name such as SIGINT or a number');
  });

  it('health checks start with CMD, CMD-SHELL or NONE', () => {
    expect(spec({ container: { image: 'x', healthcheck: { test: ['NONE'] } } }).container!.healthcheck).toEqual({ test: ['NONE'], intervalMs: 0, timeoutMs: 0, retries: 0, startPeriodMs: 0 });
    expect(() => spec({ container: { image: 'x', healthcheck: { test: ['curl', 'x'] } } })).toThrow('invalid health check "curl x": must start with CMD, CMD-SHELL or NONE');
    expect(() => spec({ container: { image: 'x', healthcheck: { test: ['CMD-SHELL'] } } })).toThrow('invalid health check: a command is required after CMD-SHELL');
  });
});

describe('isSameTaskSpec', () => {
  it('sees container, resources, ports and --force; not replicas, update config or key order', () => {
    const base = spec();
    expect(isSameTaskSpec(base, { ...spec({ replicas: 5, updateConfig: { parallelism: 3 } }) })).toBe(true);
    const reordered = JSON.parse(JSON.stringify({ ...base, container: { env: [], command: [], ...base.container } }));
    expect(isSameTaskSpec(base, reordered)).toBe(true);
    expect(isSameTaskSpec(base, spec({ container: { image: 'app:v2' } }))).toBe(false);
    expect(isSameTaskSpec(base, spec({ resources: { cpus: 1 } }))).toBe(false);
    expect(isSameTaskSpec(base, spec({ forceUpdate: 1 }))).toBe(false);
  });

  it('sees the networks and exposed ports: a container joins and publishes them when it is made', () => {
    const base = spec({ networks: ['front'] });
    expect(isSameTaskSpec(base, spec({ networks: ['front'] }))).toBe(true);
    expect(isSameTaskSpec(base, spec({ networks: ['front', 'back'] }))).toBe(false);
    expect(isSameTaskSpec(base, spec())).toBe(false);
    expect(isSameTaskSpec(base, spec({ networks: ['front'], expose: [{ targetPort: 80, protocol: 'tcp' }] }))).toBe(false);
  });
});
