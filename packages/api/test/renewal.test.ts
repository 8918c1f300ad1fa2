import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createClusterCa, issueCertificate, issueIdentity, type ClusterCa } from '../src/security/cluster-ca';
import { createNodeKeyRequest } from '../src/security/node-key';
import { certificateExpired, renewalDelayMs } from '../src/security/renewal-timing';
import { identityFiles, readIdentity, replaceIdentity, writeIdentity } from '../src/security/identity-files';
import { renewIdentity } from '../src/security/renew-client';
import { RenewableIdentity } from '../src/security/renewable-identity';
import { CertificateRenewer } from '../src/security/certificate-renewer';
import type { TlsIdentity } from '../src/security/grpc-credentials';

const dirs: string[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

const serial = (identity: TlsIdentity) => new X509Certificate(identity.certPem).serialNumber;
const quietLog = () => ({ info: vi.fn(), warn: vi.fn(), error: vi.fn() });

describe('certificate renewal', () => {
  let ca: ClusterCa;
  beforeAll(async () => {
    ca = await createClusterCa();
  });

  it('is due between 50% and 80% of the certificate\'s life, counted from its issue (not its back-dated start)', async () => {
    const issuedAt = Math.floor(Date.now() / 1000) * 1000; // certificates keep whole seconds
    const { keyPem: _key, csrPem } = await createNodeKeyRequest('pi-1');
    const certPem = await issueCertificate(ca, { csrPem, nodeId: 'pi-1', role: 'worker', validityMs: 60_000, now: issuedAt });
    expect(renewalDelayMs(certPem, issuedAt, () => 0)).toBe(30_000);
    expect(renewalDelayMs(certPem, issuedAt, () => 1)).toBe(48_000);
    expect(renewalDelayMs(certPem, issuedAt + 10_000, () => 0.5)).toBe(29_000);
    // A member told the cluster's lifetime is now 20 s renews within that window instead.
    expect(renewalDelayMs(certPem, issuedAt, () => 0, 20_000)).toBe(10_000);
    expect(renewalDelayMs(certPem, issuedAt + 30_000, () => 0, 20_000)).toBe(0);
    // Past due (a node that was busy or cut off): at once.
    expect(renewalDelayMs(certPem, issuedAt + 55_000, () => 0)).toBe(0);
    expect(certificateExpired(certPem, issuedAt + 59_000)).toBe(false);
    expect(certificateExpired(certPem, issuedAt + 60_000)).toBe(true);
  });

  it('a new key is made for the same node id and role; an answer for another node or key is not taken', async () => {
    const current = await issueIdentity(ca, 'pi-1', 'worker');
    const renewed = await renewIdentity(current, (csrPem) => issueCertificate(ca, { csrPem, nodeId: 'pi-1', role: 'worker' }));
    expect(renewed.keyPem).not.toBe(current.keyPem);
    expect(serial(renewed)).not.toBe(serial(current));
    await expect(renewIdentity(current, (csrPem) => issueCertificate(ca, { csrPem, nodeId: 'pi-1', role: 'manager' }))).rejects.toThrow(
      'the renewed certificate names another node or role',
    );
    const stranger = await createNodeKeyRequest('pi-1');
    await expect(renewIdentity(current, () => issueCertificate(ca, { csrPem: stranger.csrPem, nodeId: 'pi-1', role: 'worker' }))).rejects.toThrow(
      'the renewed certificate is not for the key this node made',
    );
  });

  it('replaces the stored pair so a crash between the two moves still leaves a matching pair, the key 0600', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-renew-'));
    dirs.push(dir);
    const first = await issueIdentity(ca, 'pi-1', 'worker');
    writeIdentity(dir, 'node', first);
    const second = await issueIdentity(ca, 'pi-1', 'worker');
    replaceIdentity(dir, 'node', second);
    expect(readIdentity(dir, 'node')).toEqual(second);
    expect(fs.statSync(identityFiles(dir, 'node').key).mode & 0o777).toBe(0o600);
    // A crash after the key was moved and before the certificate was: the next read finishes the move.
    const third = await issueIdentity(ca, 'pi-1', 'worker');
    const next = identityFiles(dir, 'node.next');
    fs.writeFileSync(next.cert, third.certPem, { mode: 0o600 });
    fs.writeFileSync(identityFiles(dir, 'node').key, third.keyPem, { mode: 0o600 });
    expect(readIdentity(dir, 'node')).toEqual(third);
    expect(fs.existsSync(next.cert)).toBe(false);
  });

  it('the renewer stores the new certificate, then puts it in use, and tries again after a failure', async () => {
    const start = Date.now();
    // Made ahead (key generation does not run on fake time): the renewal will come at start + 35 s.
    const at = async (now: number) => {
      const { keyPem, csrPem } = await createNodeKeyRequest('pi-1');
      return { caPem: ca.certPem, keyPem, certPem: await issueCertificate(ca, { csrPem, nodeId: 'pi-1', role: 'worker', validityMs: 60_000, now }) };
    };
    const [first, fresh] = [await at(start), await at(start + 35_000)];
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: start });
    const identity = new RenewableIdentity(first);
    const events: string[] = [];
    let fail = true;
    const renewer = new CertificateRenewer({
      identity,
      renew: async () => {
        events.push('renew');
        if (fail) throw new Error('no leader');
        return fresh;
      },
      store: (stored) => events.push(`store ${stored === fresh}`),
      onRenewed: () => events.push(`renewed ${identity.current === fresh}`),
      log: quietLog(),
      rejoinHint: 'rejoin',
      random: () => 0,
    });
    identity.onReplace(() => events.push('replace'));
    renewer.start();
    await vi.advanceTimersByTimeAsync(29_000);
    expect(events).toEqual([]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(events).toEqual(['renew']);
    expect(identity.current).toBe(first);
    fail = false;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(events).toEqual(['renew', 'renew', 'store true', 'replace', 'renewed true']);
    // The next renewal is due at half of the new certificate's life (start + 65 s), not before.
    await vi.advanceTimersByTimeAsync(28_000);
    expect(events).toHaveLength(5);
    renewer.stop();
  });

  it('a renewer whose certificate expired says what to do, once', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const identity = new RenewableIdentity(await issueIdentity(ca, 'pi-1', 'worker', 60_000));
    const log = quietLog();
    const renewer = new CertificateRenewer({
      identity,
      renew: () => Promise.reject(new Error('unreachable')),
      store: () => undefined,
      log,
      rejoinHint: 'start the agent with --join-token TOKEN',
    });
    renewer.start();
    await vi.advanceTimersByTimeAsync(90_000);
    renewer.stop();
    expect(log.error).toHaveBeenCalledTimes(1);
    expect(log.error.mock.calls[0][1]).toBe('the node certificate expired before it could be renewed: start the agent with --join-token TOKEN');
    expect(log.warn).toHaveBeenCalled();
  });
});
