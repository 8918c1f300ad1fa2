import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { validateServiceSpec, type Service, type Task } from '@pisched/api';
import { buildUpdatedSpec, splitArgs } from '../src/commands/update';
import { buildRunSpec } from '../src/commands/run';
import { finished, updateProgressLines, waitForUpdate } from '../src/update-progress';
import { service, task } from './fixtures';

const current = () => validateServiceSpec({ name: 'web', replicas: 2, container: { image: 'app:v1', env: ['A=1', 'B=2'] } });

describe('update flags', () => {
  it('changes only what the flags name: image, env add/replace/remove, resources, replicas', () => {
    const spec = buildUpdatedSpec(current(), { image: 'app:v2', envAdd: ['B=3', 'C=4'], envRm: ['A'], cpu: '0.5', memory: '64M', replicas: '4' });
    expect(spec.container!.image).toBe('app:v2');
    expect(spec.container!.env).toEqual(['B=3', 'C=4']);
    expect(spec.resources).toEqual({ cpus: 0.5, memoryBytes: 64 * 1024 * 1024, generic: {} });
    expect(spec.replicas).toBe(4);
    expect(spec.forceUpdate).toBe(0);
  });

  it('refuses --replicas for a global service, and takes its other flags', () => {
    const global = validateServiceSpec({ name: 'agent', mode: 'GLOBAL', container: { image: 'app:v1' } });
    expect(() => buildUpdatedSpec(global, { replicas: '3' })).toThrow(
      'cannot set --replicas of agent: a global service runs one task on every eligible node and takes no replica count',
    );
    expect(buildUpdatedSpec(global, { image: 'app:v2' }).container!.image).toBe('app:v2');
  });

  it('--publish-add adds or replaces a port, --publish-rm drops one by its published port and protocol', () => {
    const withPorts = buildUpdatedSpec(current(), { publishAdd: ['8080:80', 'published=5353,target=53,protocol=udp,mode=host'] });
    expect(withPorts.ports.map((p) => `${p.publishedPort}:${p.targetPort}/${p.protocol} ${p.publishMode}`)).toEqual(['8080:80/tcp ingress', '5353:53/udp host']);
    const changed = buildUpdatedSpec(withPorts, { publishAdd: ['8080:81'], publishRm: ['5353/udp'] });
    expect(changed.ports.map((p) => `${p.publishedPort}:${p.targetPort}/${p.protocol}`)).toEqual(['8080:81/tcp']);
    expect(buildUpdatedSpec(changed, { publishRm: ['8080'] }).ports).toEqual([]);
  });

  it('--network-add joins a pisched network once, --network-rm leaves one; Docker modes and networks not joined are refused in one line', () => {
    const joined = buildUpdatedSpec(current(), { networkAdd: ['front', 'back', 'front'] });
    expect(joined.networks).toEqual(['front', 'back']);
    expect(buildUpdatedSpec(joined, { networkRm: ['front'], networkAdd: ['db'] }).networks).toEqual(['back', 'db']);
    expect(() => buildUpdatedSpec(joined, { networkAdd: ['host'] })).toThrow("invalid --network-add host: host is Docker's network mode, not a pisched network (use --network host)");
    expect(() => buildUpdatedSpec(joined, { networkRm: ['db'] })).toThrow('--network-rm db: the service is not on network db');
    expect(buildUpdatedSpec(joined, {}).networks).toEqual(['front', 'back']);
  });

  it('--force bumps the force counter; update config flags keep the values not given', () => {
    const first = buildUpdatedSpec(current(), { force: true, updateParallelism: '2', updateOrder: 'start-first' });
    expect(first.forceUpdate).toBe(1);
    const second = buildUpdatedSpec(first, { force: true, updateDelay: '2s', rollbackMonitor: '1s' });
    expect(second.forceUpdate).toBe(2);
    expect(second.updateConfig).toEqual({ parallelism: 2, delayMs: 2000, failureAction: 'pause', monitorMs: 5000, maxFailureRatio: 0, order: 'start-first' });
    expect(second.rollbackConfig!.monitorMs).toBe(1000);
  });

  it('refuses bad values in one line', () => {
    expect(() => buildUpdatedSpec(current(), { updateOrder: 'sideways' })).toThrow('invalid update order "sideways": use stop-first or start-first');
    expect(() => buildUpdatedSpec(current(), { updateFailureAction: 'explode' })).toThrow(/invalid update failure action "explode"/);
    expect(() => buildUpdatedSpec(current(), { rollbackFailureAction: 'rollback' })).toThrow(/invalid rollback failure action "rollback"/);
    expect(() => buildUpdatedSpec(current(), { updateMaxFailureRatio: '2' })).toThrow(/must be a number from 0 to 1/);
    expect(() => buildUpdatedSpec(current(), { updateParallelism: '-1' })).toThrow(/invalid --update-parallelism/);
    expect(() => buildUpdatedSpec(current(), { healthcheck: false, healthCmd: 'true' })).toThrow('--no-healthcheck conflicts with the --health-* flags');
  });

  it('run takes the same flags, and stop/init/health flags', () => {
    const spec = buildRunSpec('app:v1', [], {
      name: 'web', updateParallelism: '0', updateFailureAction: 'rollback', stopSignal: 'sigint', stopGracePeriod: '3s', init: true,
      healthCmd: 'test -f /ok', healthInterval: '1s', healthRetries: '2',
    });
    expect(spec.updateConfig).toMatchObject({ parallelism: 0, failureAction: 'rollback', order: 'stop-first', monitorMs: 5000 });
    expect(spec.container).toMatchObject({ stopSignal: 'SIGINT', stopGracePeriodMs: 3000, init: true });
    expect(spec.container!.healthcheck).toEqual({ test: ['CMD-SHELL', 'test -f /ok'], intervalMs: 1000, timeoutMs: 0, retries: 2, startPeriodMs: 0 });
    expect(buildRunSpec('app:v1', [], { name: 'web', healthcheck: false }).container!.healthcheck!.test).toEqual(['NONE']);
  });
});

describe('update progress', () => {
  const updating = (state: string, message = '', startedAt = 100, rolledOutAt = 0): Service =>
    service({ updateStatus: { state, message, startedAt, completedAt: 0, resumedAt: 0, rolledOutAt } } as Partial<Service>);

  it('an update succeeds on completed; pause and rollback are failures with their reason', () => {
    expect(finished('completed', 'update completed', 'update')).toBe('ok');
    expect(finished('updating', '', 'update')).toBeUndefined();
    expect(finished('rollback_started', 'x', 'update')).toBeUndefined();
    expect(finished('paused', 'update paused: task web.1 exited', 'update')).toBe('update paused: task web.1 exited');
    expect(finished('rollback_completed', 'update rolled back: why', 'update')).toBe('update rolled back: why');
    expect(finished('rollback_completed', 'rollback completed', 'rollback')).toBe('ok');
  });

  it('an update or rollback that rolled out succeeds while still in progress; an automatic rollback that rolled out is the update\'s failure', () => {
    expect(finished('updating', 'update in progress', 'update', true)).toBe('ok');
    expect(finished('rollback_started', 'rollback in progress', 'rollback', true)).toBe('ok');
    expect(finished('rollback_started', 'update rolled back: why', 'update', true)).toBe('update rolled back: why');
    expect(finished('rollback_started', 'rollback in progress', 'rollback')).toBeUndefined();
  });

  /** Two slots on the new spec, both running: the last started at `lastStart`. */
  const rolledOutRounds = (lastStart: number) => {
    const base = updating('updating', 'update in progress');
    const twoSlots = (state: string, message: string, rolledOutAt = 0): Service => {
      const next = updating(state, message, 100, rolledOutAt);
      return { ...next, spec: { ...base.spec!, replicas: 2, updateConfig: { parallelism: 1, delayMs: 0, failureAction: 'rollback', monitorMs: 5000, maxFailureRatio: 0, order: 'stop-first' } } };
    };
    const spec = twoSlots('updating', '').spec;
    const tasks = [task({ slot: 1, spec, startedAt: lastStart - 3000 }), task({ slot: 2, spec, startedAt: lastStart })];
    return { twoSlots, tasks };
  };

  it('returns once the update has rolled out, before it completes, saying until when the last tasks are watched', async () => {
    const lastStart = Date.UTC(2026, 11, 2, 12, 0, 0);
    const { twoSlots, tasks } = rolledOutRounds(lastStart);
    const states = [twoSlots('updating', 'update in progress'), twoSlots('updating', 'update in progress', lastStart + 80), twoSlots('completed', 'update completed', lastStart + 80)];
    let call = 0;
    const client = { getService: async () => states[Math.min(call++, states.length - 1)]!, listTasks: async () => tasks };
    const out = Object.assign(new PassThrough(), { isTTY: false });
    await waitForUpdate(client, 'web', 100, { timeoutMs: 5000, expect: 'update', sleep: async () => {}, out });
    expect(call).toBe(2);
    const until = new Date(lastStart + 5000).toTimeString().slice(0, 8);
    expect(String(out.read()).trim().split('\n').at(-1)).toBe(`service web: updated: 2/2 tasks run the new spec; the last tasks are watched until ${until} (pisched inspect web shows the outcome)`);
  });

  it('--wait-monitor waits out the last window: a failure there still rolls the update back, and the command fails with the reason', async () => {
    const lastStart = Date.UTC(2026, 11, 2, 12, 0, 0);
    const { twoSlots, tasks } = rolledOutRounds(lastStart);
    const reason = 'update rolled back: task web.2 (abcdefghijkl) exited with code 2 within the monitor window';
    const states = [
      twoSlots('updating', 'update in progress', lastStart + 80),
      twoSlots('rollback_started', reason),
      twoSlots('rollback_completed', reason, lastStart + 4000),
    ];
    let call = 0;
    const client = { getService: async () => states[Math.min(call++, states.length - 1)]!, listTasks: async () => tasks };
    const out = Object.assign(new PassThrough(), { isTTY: false });
    await expect(waitForUpdate(client, 'web', 100, { timeoutMs: 5000, expect: 'update', waitMonitor: true, sleep: async () => {}, out })).rejects.toThrow(`service web: ${reason}`);
    expect(call).toBe(3);
    // Without the flag the same update has returned at its roll-out, exit 0: the failure is then for pisched inspect to show.
    call = 0;
    await waitForUpdate(client, 'web', 100, { timeoutMs: 5000, expect: 'update', sleep: async () => {}, out });
    expect(call).toBe(1);
  });

  it('an update paused before it rolled out fails with the reason', async () => {
    const states = [updating('updating', 'update in progress'), updating('paused', 'update paused: task web.1 (abcdefghijkl) exited with code 2 within the monitor window')];
    let call = 0;
    const client = { getService: async () => states[Math.min(call++, states.length - 1)]!, listTasks: async () => [] };
    const out = Object.assign(new PassThrough(), { isTTY: false });
    await expect(waitForUpdate(client, 'web', 100, { timeoutMs: 5000, expect: 'update', sleep: async () => {}, out })).rejects.toThrow(
      'service web: update paused: task web.1 (abcdefghijkl) exited with code 2 within the monitor window',
    );
  });

  it('draws one line per slot and an overall count of updated tasks', () => {
    const svc = updating('updating', 'update in progress');
    const v2 = { ...svc.spec! };
    const old = { ...svc.spec!, container: { ...svc.spec!.container!, image: 'old:v1' } };
    const tasks: Task[] = [
      task({ slot: 1, spec: v2 }),
      task({ slot: 2, spec: old }),
      task({ slot: 3, spec: v2, state: 'STARTING' }),
    ];
    const lines = updateProgressLines(svc, tasks);
    expect(lines[0]).toMatch(/^overall progress: 1 out of 3 tasks \[=+ +\]$/);
    expect(lines.slice(1)).toEqual(['1/3: running nginx:alpine', '2/3: running old:v1, not updated yet', '3/3: starting nginx:alpine', 'updating: update in progress']);
  });

  it('a global service gets one line per node', () => {
    const svc = updating('updating', 'update in progress');
    const globalService = { ...svc, spec: { ...svc.spec!, mode: 'GLOBAL' as const, replicas: 0 } };
    const lines = updateProgressLines(globalService, [task({ slot: 0, nodeId: 'pi2', spec: globalService.spec }), task({ slot: 0, nodeId: 'pi1', spec: globalService.spec, state: 'PREPARING' })]);
    expect(lines).toEqual([`overall progress: 1 out of 2 tasks [${'='.repeat(10)}${' '.repeat(10)}]`, 'pi1: preparing nginx:alpine', 'pi2: running nginx:alpine', 'updating: update in progress']);
  });

  it('follows the update until it ends and fails with the reason of a rollback', async () => {
    const states = [updating('updating'), updating('rollback_started', 'update rolled back: task web.1 exited', 200), updating('rollback_completed', 'update rolled back: task web.1 exited', 200)];
    let call = 0;
    const client = { getService: async () => states[Math.min(call++, states.length - 1)], listTasks: async () => [] };
    const out = Object.assign(new PassThrough(), { isTTY: false });
    await expect(waitForUpdate(client, 'web', 100, { timeoutMs: 5000, expect: 'update', sleep: async () => {}, out })).rejects.toThrow(
      'service web: update rolled back: task web.1 exited',
    );
    expect(call).toBe(3);
  });

  it('polls every 100 ms once every slot has its task of the new spec (the last batch is under way), and every 500 ms before', async () => {
    const twoSlots = (state: string, message: string): Service => {
      const base = updating(state, message);
      return { ...base, spec: { ...base.spec!, replicas: 2 } };
    };
    const svc = twoSlots('updating', 'update in progress');
    const old = { ...svc.spec!, container: { ...svc.spec!.container!, image: 'old:v1' } };
    // Slot 2 still runs the old spec; then its old task stops while its successor waits, prepared (the last batch);
    // then both run the new one through the last window, then it completes.
    const rounds: [Service, Task[]][] = [
      [svc, [task({ slot: 1, spec: svc.spec }), task({ slot: 2, spec: old })]],
      [svc, [task({ slot: 1, spec: svc.spec }), task({ slot: 2, spec: old, desiredState: 'SHUTDOWN' }), task({ slot: 2, spec: svc.spec, state: 'STARTING', prepareOnly: true })]],
      [svc, [task({ slot: 1, spec: svc.spec }), task({ slot: 2, spec: svc.spec })]],
      [twoSlots('completed', 'update completed'), [task({ slot: 1, spec: svc.spec }), task({ slot: 2, spec: svc.spec })]],
    ];
    let call = 0;
    const client = { getService: async () => rounds[call]![0], listTasks: async () => rounds[call++]![1] };
    const slept: number[] = [];
    const out = Object.assign(new PassThrough(), { isTTY: false });
    await waitForUpdate(client, 'web', 100, { timeoutMs: 5000, expect: 'update', sleep: async (ms) => void slept.push(ms), out, now: () => 0 });
    expect(slept).toEqual([500, 100, 100]);
  });

  it('polls every 100 ms for 10 s of a last batch that does not run, then every 500 ms', async () => {
    const svc = updating('updating', 'update in progress');
    const twoSlots: Service = { ...svc, spec: { ...svc.spec!, replicas: 2 } };
    const stuck = [task({ slot: 1, spec: twoSlots.spec }), task({ slot: 2, spec: twoSlots.spec, state: 'PENDING' })];
    let call = 0;
    let clock = 0;
    const client = {
      getService: async () => (call < 103 ? twoSlots : { ...twoSlots, updateStatus: { ...twoSlots.updateStatus!, state: 'completed', message: 'update completed' } }),
      listTasks: async () => (call++, stuck),
    };
    const slept: number[] = [];
    const out = Object.assign(new PassThrough(), { isTTY: false });
    await waitForUpdate(client, 'web', 100, { timeoutMs: 60_000, expect: 'update', sleep: async (ms) => void (slept.push(ms), (clock += ms)), out, now: () => clock });
    expect(slept).toEqual([...Array<number>(100).fill(100), 500, 500, 500]);
  });

  it('a later update supersedes the one followed', async () => {
    const client = { getService: async () => updating('updating', '', 999), listTasks: async () => [] };
    const out = Object.assign(new PassThrough(), { isTTY: false });
    await expect(waitForUpdate(client, 'web', 100, { timeoutMs: 5000, expect: 'update', sleep: async () => {}, out })).rejects.toThrow(/superseded/);
  });
});

describe('--args', () => {
  it('splits words as a shell does for plain and quoted words', () => {
    expect(splitArgs(`sh -c 'echo "hi there"; exit 1'`)).toEqual(['sh', '-c', 'echo "hi there"; exit 1']);
    expect(splitArgs(`a"b c"d  e`)).toEqual(['ab cd', 'e']);
    expect(splitArgs('')).toEqual([]);
    expect(() => splitArgs(`sh -c 'oops`)).toThrow('invalid --args "sh -c \'oops": unbalanced quotes');
  });
});
