import { describe, expect, it } from 'vitest';
import { isRevoked, type PeerIdentity, type RevokedCertificate } from '../src';

const entry = (nodeId: string, serial: string): RevokedCertificate => ({ nodeId, role: 'worker', serial, notAfterMs: 0, revokedAtMs: 0 });
const caller = (nodeId: string, serial: string): PeerIdentity => ({ nodeId, role: 'worker', serial });

describe('isRevoked', () => {
  it('refuses a listed serial, and any unrecorded certificate of a node id revoked wholesale', () => {
    const revoked = [entry('pi-1', 'aa'), entry('pi-2', '')];
    const recorded = new Set(['cc']);
    const check = (who: PeerIdentity) => isRevoked(revoked, who, (serial) => recorded.has(serial));
    expect(check(caller('pi-1', 'aa'))).toBe(true);
    expect(check(caller('pi-1', 'ab'))).toBe(false);
    expect(check(caller('pi-2', 'bb'))).toBe(true);
    // pi-2 joined again after its removal: its new certificate is recorded, and holds.
    expect(check(caller('pi-2', 'cc'))).toBe(false);
    expect(check(caller('pi-3', 'dd'))).toBe(false);
    expect(isRevoked([], caller('pi-1', 'aa'), () => false)).toBe(false);
  });
});
