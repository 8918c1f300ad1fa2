import { describe, expect, it } from 'vitest';
import { buildClusterUpdate } from '../src/commands/cluster';
import { CliError } from '../src/errors';

describe('cluster update flags', () => {
  it('read --placement-strategy, leaving what is not given unchanged (0 or empty)', () => {
    expect(buildClusterUpdate({ placementStrategy: 'Spread' })).toEqual({ heartbeatPeriodMs: 0, heartbeatGrace: 0, placementStrategy: 'spread', allowPrivileged: '' });
    expect(buildClusterUpdate({ heartbeatPeriod: '2s' })).toEqual({ heartbeatPeriodMs: 2000, heartbeatGrace: 0, placementStrategy: '', allowPrivileged: '' });
    expect(buildClusterUpdate({ allowPrivileged: 'FALSE' })).toMatchObject({ allowPrivileged: 'false' });
  });

  it.each([
    [{ placementStrategy: 'random' }, 'invalid placement strategy "random": use binpack or spread'],
    [{}, 'nothing to update: give --heartbeat-period, --heartbeat-grace, --placement-strategy and/or --allow-privileged'],
    [{ allowPrivileged: 'no' }, 'invalid --allow-privileged "no": use true or false'],
  ])('refuses %j with one line', (options, message) => {
    expect(() => buildClusterUpdate(options)).toThrow(CliError);
    expect(() => buildClusterUpdate(options)).toThrow(message);
  });
});
