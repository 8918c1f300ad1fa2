import { describe, expect, it } from 'vitest';
import { buildClusterUpdate } from '../src/commands/cluster';
import { CliError } from '../src/errors';
import { formatMs } from '../src/format';

describe('cluster update flags', () => {
  it('read --placement-strategy, leaving what is not given unchanged (0 or empty)', () => {
    expect(buildClusterUpdate({ placementStrategy: 'Spread' })).toEqual({ heartbeatPeriodMs: 0, heartbeatGrace: 0, placementStrategy: 'spread', allowPrivileged: '', certExpiryMs: 0, preemption: '', thermalPolicy: '', thermalGraceMs: 0 });
    expect(buildClusterUpdate({ heartbeatPeriod: '2s' })).toEqual({ heartbeatPeriodMs: 2000, heartbeatGrace: 0, placementStrategy: '', allowPrivileged: '', certExpiryMs: 0, preemption: '', thermalPolicy: '', thermalGraceMs: 0 });
    expect(buildClusterUpdate({ allowPrivileged: 'FALSE' })).toMatchObject({ allowPrivileged: 'false' });
    expect(buildClusterUpdate({ preemption: 'Off' })).toMatchObject({ preemption: 'off' });
    expect(buildClusterUpdate({ thermalPolicy: 'Avoid-Throttled', thermalGrace: '90s' })).toMatchObject({ thermalPolicy: 'avoid-throttled', thermalGraceMs: 90_000 });
  });

  it('read --cert-expiry in days, hours or minutes, from 1m', () => {
    expect(buildClusterUpdate({ certExpiry: '90d' }).certExpiryMs).toBe(90 * 86_400_000);
    expect(buildClusterUpdate({ certExpiry: '24h' }).certExpiryMs).toBe(86_400_000);
    expect(buildClusterUpdate({ certExpiry: '1m' }).certExpiryMs).toBe(60_000);
    expect(formatMs(90 * 86_400_000)).toBe('90d');
    expect(formatMs(36 * 3_600_000)).toBe('1d12h');
    expect(formatMs(90 * 60_000)).toBe('1h30m');
  });

  it.each([
    [{ placementStrategy: 'random' }, 'invalid placement strategy "random": use binpack or spread'],
    [{}, 'nothing to update: give --heartbeat-period, --heartbeat-grace, --placement-strategy, --allow-privileged, --cert-expiry, --preemption, --thermal-policy and/or --thermal-grace'],
    [{ thermalPolicy: 'cold' }, 'invalid --thermal-policy "cold": use off, prefer-cool or avoid-throttled'],
    [{ thermalGrace: '100ms' }, 'invalid --thermal-grace "100ms": must be from 1s to 24h'],
    [{ preemption: 'maybe' }, 'invalid --preemption "maybe": use on or off'],
    [{ allowPrivileged: 'no' }, 'invalid --allow-privileged "no": use true or false'],
    [{ certExpiry: '30s' }, 'invalid --cert-expiry "30s": a certificate lifetime must be from 1m to 3650d'],
    [{ certExpiry: '4000d' }, 'invalid --cert-expiry "4000d": a certificate lifetime must be from 1m to 3650d'],
    [{ certExpiry: 'soon' }, 'invalid --cert-expiry "soon": use a duration such as 90d, 24h or 1m'],
    [{ certExpiry: '0' }, 'invalid --cert-expiry "0": use a duration such as 90d, 24h or 1m'],
  ])('refuses %j with one line', (options, message) => {
    expect(() => buildClusterUpdate(options)).toThrow(CliError);
    expect(() => buildClusterUpdate(options)).toThrow(message);
  });
});
