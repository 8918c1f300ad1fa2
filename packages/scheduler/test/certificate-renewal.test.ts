import * as grpc from '@grpc/grpc-js';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createNodeKeyRequest, issueIdentity, peerIdentity, type ControlHandlers, type Role, type TlsIdentity } from '@pisched/api';
import { Store } from '../src/store/store';
import { LocalCommandLog } from '../src/store/local-command-log';
import { CertificateAuthority } from '../src/security/certificate-authority';
import { gatherIssuedRecords } from '../src/security/issued-record-batch';
import { GatheredWrites } from '../src/store/gathered-writes';
import { recordIssued, NodeIdTakenError } from '../src/security/cluster-security';
import { revokeNode } from '../src/security/revocation';
import { authorizeControl } from '../src/security/authorize-control';
import { forwardedMetadata, originalCaller } from '../src/security/forwarded-identity';
import { CLUSTER_ID } from '../src/store/state-machine';
import { emptyCluster } from '../src/cluster/cluster-settings';

const dirs: string[] = [];
const logs: LocalCommandLog[] = [];
async function openCa(): Promise<{ store: Store; ca: CertificateAuthority }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-renew-'));
  dirs.push(dir);
  const store = new Store();
  logs.push(new LocalCommandLog(dir, store));
  const ca = new CertificateAuthority(store);
  await ca.ensure();
  return { store, ca };
}
afterEach(() => {
  for (const log of logs.splice(0)) log.close();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

const life = (certPem: string) => {
  const cert = new X509Certificate(certPem);
  return Date.parse(cert.validTo) - Date.now();
};

/** A call as grpc-js hands it to a handler, made over a connection verified with `identity`'s certificate. */
function callFrom(identity: TlsIdentity | undefined, metadata = new grpc.Metadata()): grpc.ServerUnaryCall<unknown, unknown> {
  const raw = identity && new X509Certificate(identity.certPem).raw;
  return { request: {}, metadata, getAuthContext: () => ({ sslPeerCertificate: raw ? { raw } : undefined }) } as unknown as grpc.ServerUnaryCall<unknown, unknown>;
}

async function identityOf(store: Store, nodeId: string, role: Role): Promise<TlsIdentity> {
  const security = store.state.security!;
  return issueIdentity({ certPem: security.rootCaCert, keyPem: security.rootCaKey }, nodeId, role);
}

describe('certificates issued together', () => {
  it('are recorded in one write; a second record for a live id in the same batch is refused alone, as is a revoked renewal', async () => {
    const { store } = await openCa();
    const later = Date.now() + 3_600_000;
    const record = (nodeId: string, serial: string) => ({ nodeId, role: 'worker', serial, notAfterMs: later });
    const revoked = new Error('pi-r was revoked');
    const batch = new GatheredWrites(store, 25, (state) =>
      gatherIssuedRecords(state, Date.now(), (_state, holder) => {
        if (holder.nodeId === 'pi-r') throw revoked;
      }),
    );
    let writes = 0;
    store.on('change', () => writes++);
    const results = await Promise.allSettled([
      batch.write({ record: record('pi-a', '1') }),
      batch.write({ record: record('pi-b', '2') }),
      batch.write({ record: record('pi-a', '3') }),
      batch.write({ record: record('pi-r', '4'), renewalOf: { nodeId: 'pi-r', role: 'worker', serial: '0' } }),
      batch.write({ record: record('pi-c', '5') }),
    ]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(NodeIdTakenError);
    expect((results[3] as PromiseRejectedResult).reason).toBe(revoked);
    expect(store.state.security!.issued.map((cert) => cert.serial)).toEqual(['1', '2', '5']);
    expect(writes).toBe(1);
  });
});

describe('certificate renewal at the CA', () => {
  it('renews the holder\'s own node id and role, though a live certificate holds it; a join for that id is still refused', async () => {
    const { store, ca } = await openCa();
    const { csrPem } = await createNodeKeyRequest('pi-1');
    await ca.issue(csrPem, 'pi-1', 'worker');
    const renewal = await createNodeKeyRequest('pi-1');
    const renewed = await ca.renew(renewal.csrPem, { nodeId: 'pi-1', role: 'worker', serial: 'unused' });
    expect(new X509Certificate(renewed.certPem).subject).toContain('CN=pi-1');
    // Both stay listed until they expire: the old one still works until then.
    expect(store.state.security!.issued.map((cert) => [cert.nodeId, cert.role])).toEqual([['pi-1', 'worker'], ['pi-1', 'worker']]);
    await expect(ca.issue((await createNodeKeyRequest('pi-1')).csrPem, 'pi-1', 'worker')).rejects.toThrow(/already held by a live certificate/);
    // Renewing again and again keeps two listed: the newest before the renewal, and the renewal.
    for (let i = 0; i < 3; i++) await ca.renew((await createNodeKeyRequest('pi-1')).csrPem, { nodeId: 'pi-1', role: 'worker', serial: 'unused' });
    expect(store.state.security!.issued.filter((cert) => cert.nodeId === 'pi-1')).toHaveLength(2);
  });

  it('refuses to renew a revoked certificate, also when a member forwards the call before it has learnt of the revocation', async () => {
    const { store, ca } = await openCa();
    const { csrPem } = await createNodeKeyRequest('pi-2');
    const issued = await ca.issue(csrPem, 'pi-2', 'worker');
    const holder = peerIdentity(issued.certPem)!;
    await store.update((state) => revokeNode(state, 'pi-2', 'worker', Date.now()).actions);
    // The leader sees the holder only as the forwarding member said it, serial included.
    await expect(ca.renew((await createNodeKeyRequest('pi-2')).csrPem, holder)).rejects.toThrow(/pi-2 was revoked/);
    expect(store.state.security!.issued.filter((cert) => cert.nodeId === 'pi-2')).toEqual([]);
    const forwarded = originalCaller(callFrom(await identityOf(store, 'member-1', 'manager'), forwardedMetadata(callFrom({ ...issued, keyPem: '' }))));
    expect(forwarded).toEqual(holder);
  });

  it('recordIssued takes a renewal for the same role only', async () => {
    const { store, ca } = await openCa();
    await ca.issue((await createNodeKeyRequest('s2')).csrPem, 's2', 'manager');
    const record = { nodeId: 's2', role: 'worker', serial: '01', notAfterMs: Date.now() + 60_000 };
    expect(() => recordIssued(store.state, record, Date.now(), true)).toThrow(NodeIdTakenError);
    expect(() => recordIssued(store.state, { ...record, role: 'manager' }, Date.now(), false)).toThrow(NodeIdTakenError);
    expect(recordIssued(store.state, { ...record, role: 'manager' }, Date.now(), true)).toHaveLength(1);
  });

  it('issues joins and renewals for the cluster\'s certificate lifetime, 90 days until one is set', async () => {
    const { store, ca } = await openCa();
    const joined = await ca.issue((await createNodeKeyRequest('pi-1')).csrPem, 'pi-1', 'worker');
    expect(Math.round(life(joined.certPem) / 86_400_000)).toBe(90);
    await store.update(() => [{ action: 'putCluster', putCluster: { ...emptyCluster(Date.now()), id: CLUSTER_ID, certExpiryMs: 60_000 } }]);
    const renewed = await ca.renew((await createNodeKeyRequest('pi-1')).csrPem, { nodeId: 'pi-1', role: 'worker', serial: 'unused' });
    expect(life(renewed.certPem)).toBeGreaterThan(50_000);
    expect(life(renewed.certPem)).toBeLessThanOrEqual(60_000);
  });
});

describe('who may renew', () => {
  const handlers = authorizeControl({
    RenewNodeCertificate: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => callback(null, originalCaller(call)),
    ListNodes: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => callback(null, 'listed'),
  } as unknown as ControlHandlers, () => undefined) as unknown as Record<string, (call: unknown, callback: grpc.sendUnaryData<unknown>) => void>;
  const answer = (name: string, call: unknown) =>
    new Promise<unknown>((resolve) => handlers[name](call, (error, value) => resolve(error ? (error as grpc.ServiceError).details : value)));

  it('any holder of a cluster certificate may renew, as itself; no certificate may not; a worker may call nothing else', async () => {
    const { store } = await openCa();
    for (const role of ['worker', 'manager', 'admin'] as const) {
      expect(await answer('RenewNodeCertificate', callFrom(await identityOf(store, `n-${role}`, role)))).toEqual({ nodeId: `n-${role}`, role, serial: expect.any(String) });
    }
    expect(await answer('RenewNodeCertificate', callFrom(undefined))).toMatch(/^the Control API \(RenewNodeCertificate\) needs a worker certificate of this cluster; the caller presented no cluster certificate$/);
    expect(await answer('ListNodes', callFrom(await identityOf(store, 'pi-1', 'worker')))).toMatch(/needs an admin certificate/);
  });

  it('the node id and role come from the certificate: a worker cannot claim another identity; a forwarding member can pass on the one it verified', async () => {
    const { store } = await openCa();
    const worker = await identityOf(store, 'pi-1', 'worker');
    const claimed = new grpc.Metadata();
    claimed.set('pisched-forwarded-for-node', 's1');
    claimed.set('pisched-forwarded-for-role', 'manager');
    expect(await answer('RenewNodeCertificate', callFrom(worker, claimed))).toEqual(peerIdentity(worker.certPem));
    // A follower forwards the worker's call under its own manager certificate, saying whom it verified.
    const forwarded = forwardedMetadata(callFrom(worker));
    const member = await identityOf(store, 's2', 'manager');
    expect(await answer('RenewNodeCertificate', callFrom(member, forwarded))).toEqual(peerIdentity(worker.certPem));
    // A member renewing its own certificate says nothing more.
    expect(await answer('RenewNodeCertificate', callFrom(member))).toEqual(peerIdentity(member.certPem));
  });
});
