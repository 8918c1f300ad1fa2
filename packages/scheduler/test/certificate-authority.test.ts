import * as grpc from '@grpc/grpc-js';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createClusterCa, createNodeKeyRequest, formatJoinToken, newJoinSecret, parseJoinToken, peerIdentity } from '@pisched/api';
import { Store } from '../src/store/store';
import { LocalCommandLog } from '../src/store/local-command-log';
import { StateMachine } from '../src/store/state-machine';
import { CertificateAuthority } from '../src/security/certificate-authority';
import { joinTokens, rotateJoinSecret } from '../src/security/cluster-security';
import { ApiError } from '../src/control/grpc-errors';
import { securityHandlers } from '../src/security/security-handlers';
import pino from 'pino';

const dirs: string[] = [];
const logs: LocalCommandLog[] = [];
function openStore(dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-ca-'))): { store: Store; dir: string } {
  dirs.push(dir);
  const store = new Store();
  logs.push(new LocalCommandLog(dir, store));
  return { store, dir };
}
afterEach(() => {
  for (const log of logs.splice(0)) log.close();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

async function joinAs(ca: CertificateAuthority, token: string, nodeId: string) {
  const { csrPem } = await createNodeKeyRequest(nodeId);
  return ca.join(token, csrPem, nodeId);
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'accepted';
  } catch (error) {
    return (error as Error).message;
  }
}

describe('CertificateAuthority', () => {
  it('a join token asked of a cluster without a CA is refused in one line as a failed precondition', () => {
    let error: unknown;
    try {
      joinTokens(new StateMachine());
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe(grpc.status.FAILED_PRECONDITION);
    expect((error as ApiError).message).toBe('this cluster has no certificate authority yet (its first scheduler makes one at its first start)');
  });

  it('a join token or a join asked while the first leader is storing the root CA waits for it instead of being refused', async () => {
    const { store } = openStore();
    const ca = new CertificateAuthority(store);
    const root = await createClusterCa();
    // As a --peers cluster's first leader does just after its election: not awaited.
    const storing = ca.ensure(root);
    const handlers = securityHandlers(store, ca, pino({ level: 'silent' }));
    const answer = new Promise<{ error: grpc.ServiceError | null; token?: string }>((resolve) => {
      const call = { request: { role: 'worker', rotate: false } } as unknown as Parameters<typeof handlers.GetJoinToken>[0];
      handlers.GetJoinToken(call, (error, reply) => resolve({ error: error as grpc.ServiceError | null, token: reply?.token }));
    });
    const joined = refusal(joinAs(ca, formatJoinToken(root.certPem, newJoinSecret()), 'early-node'));
    await storing;
    const { error, token } = await answer;
    expect(error).toBeNull();
    expect(token).toBe(joinTokens(store.state).worker);
    expect(store.state.security?.rootCaCert).toBe(root.certPem);
    // Answered against the stored CA: a wrong secret, not "no certificate authority yet".
    expect(await joined).toMatch(/join token is not valid/);
  });

  it('creates the root CA and join secrets once, in the store, and keeps them across a restart', async () => {
    const { store, dir } = openStore();
    const ca = new CertificateAuthority(store);
    await ca.ensure();
    const first = store.state.security!;
    expect(new X509Certificate(first.rootCaCert).ca).toBe(true);
    await ca.ensure();
    expect(store.state.security!.rootCaCert).toBe(first.rootCaCert);
    logs.pop()!.close();
    const reopened = new Store();
    logs.push(new LocalCommandLog(dir, reopened));
    expect(reopened.state.security).toEqual(first);
  });

  it('survives a snapshot and restore (what a new Raft member receives)', async () => {
    const { store } = openStore();
    await new CertificateAuthority(store).ensure();
    const copy = new StateMachine();
    copy.restore(store.state.snapshot(), store.state.appliedIndex);
    expect(copy.security).toEqual(store.state.security);
  });

  it('a worker token gives a worker certificate for the node id, under the cluster root', async () => {
    const { store } = openStore();
    const ca = new CertificateAuthority(store);
    await ca.ensure();
    const tokens = joinTokens(store.state);
    const issued = await joinAs(ca, tokens.worker, 'pi-1');
    expect(peerIdentity(issued.certPem)).toMatchObject({ nodeId: 'pi-1', role: 'worker' });
    expect(issued.caPem).toBe(store.state.security!.rootCaCert);
    expect(new X509Certificate(issued.certPem).verify(new X509Certificate(issued.caPem).publicKey)).toBe(true);
    expect(peerIdentity((await joinAs(ca, tokens.manager, 's2')).certPem)).toMatchObject({ nodeId: 's2', role: 'manager' });
    expect(store.state.security!.issued.map((cert) => [cert.nodeId, cert.role])).toEqual([['pi-1', 'worker'], ['s2', 'manager']]);
  });

  it('refuses a token for another CA, a wrong secret, a rotated-away token and a node id already held, storing nothing', async () => {
    const { store } = openStore();
    const ca = new CertificateAuthority(store);
    await ca.ensure();
    const tokens = joinTokens(store.state);
    const other = await createClusterCa();
    expect(await refusal(joinAs(ca, formatJoinToken(other.certPem, parseJoinToken(tokens.worker).secret), 'pi-1'))).toBe(
      'the join token names another cluster\'s CA',
    );
    const wrong = formatJoinToken(store.state.security!.rootCaCert, newJoinSecret());
    expect(await refusal(joinAs(ca, wrong, 'pi-1'))).toMatch(/^the join token is not valid for this cluster/);
    expect(await refusal(joinAs(ca, 'garbage', 'pi-1'))).toMatch(/^the join token is malformed/);
    await store.update((state) => rotateJoinSecret(state, 'worker', newJoinSecret(), Date.now()));
    expect(await refusal(joinAs(ca, tokens.worker, 'pi-1'))).toMatch(/^the join token is not valid for this cluster/);
    expect(store.state.security!.issued).toEqual([]);
    // The manager token was not rotated and still works.
    const fresh = joinTokens(store.state);
    expect(fresh.manager).toBe(tokens.manager);
    await joinAs(ca, fresh.worker, 'pi-1');
    expect(await refusal(joinAs(ca, fresh.worker, 'pi-1'))).toBe(
      'node id pi-1 is already held by a live certificate of this cluster; choose another --node-id',
    );
    expect(store.state.security!.issued).toHaveLength(1);
  });

  it('a node id whose certificate expired may be issued again', async () => {
    const { store } = openStore();
    let now = Date.now();
    const ca = new CertificateAuthority(store, () => now);
    await ca.ensure();
    const { csrPem } = await createNodeKeyRequest('pi-1');
    await ca.issue(csrPem, 'pi-1', 'worker', 60_000);
    now += 120_000;
    await ca.issue(csrPem, 'pi-1', 'worker', 60_000);
    expect(store.state.security!.issued).toHaveLength(1);
  });

  it('the store refuses to replace the root CA', async () => {
    const { store } = openStore();
    await new CertificateAuthority(store).ensure();
    const other = await createClusterCa();
    const current = store.state.security!;
    await expect(store.update(() => [{ action: 'putSecurity', putSecurity: { ...current, rootCaCert: other.certPem, rootCaKey: other.keyPem } }])).rejects.toThrow(
      'the cluster\'s root CA cannot be replaced',
    );
  });

  it('no error message repeats a token or a secret', async () => {
    const { store } = openStore();
    const ca = new CertificateAuthority(store);
    await ca.ensure();
    const security = store.state.security!;
    const token = formatJoinToken(security.rootCaCert, newJoinSecret());
    const message = await refusal(joinAs(ca, token, 'pi-1'));
    for (const secret of [parseJoinToken(token).secret, security.workerJoinSecret, security.managerJoinSecret, 'PRIVATE KEY']) {
      expect(message).not.toContain(secret);
    }
  });
});
