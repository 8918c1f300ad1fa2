import { describe, expect, it } from 'vitest';
import { dashboardLoginUrl } from '../src/dashboard-url';

describe('pisched dashboard login URL', () => {
  it('uses the dashboard\'s address, or the scheduler\'s host when it listens on every interface', () => {
    expect(dashboardLoginUrl('a.b', '127.0.0.1:8443', '127.0.0.1:7700')).toBe('https://127.0.0.1:8443/login?token=a.b');
    expect(dashboardLoginUrl('a.b', '0.0.0.0:8443', '192.168.1.11:7700')).toBe('https://192.168.1.11:8443/login?token=a.b');
    expect(dashboardLoginUrl('a.b', '[::]:8443', '[fd00::1]:7700')).toBe('https://[fd00::1]:8443/login?token=a.b');
    expect(dashboardLoginUrl('a.b', '0.0.0.0:8443', '127.0.0.1:7700', 'pi-2.lan:9443')).toBe('https://pi-2.lan:9443/login?token=a.b');
  });

  it('says what to do when the scheduler serves no dashboard', () => {
    expect(() => dashboardLoginUrl('a.b', '', '127.0.0.1:7700')).toThrow(/serves no dashboard: start the schedulers with --dashboard-addr/);
  });
});
