import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { certificateExpired, createClusterCa, createNodeKeyRequest, issueCertificate, readIdentity, writeIdentity, writePrivateFile, type ClusterCa } from '@pisched/api';
import { joiningMemberCredentials, peersMemberCredentials, tlsDir } from '../src/security/member-identity';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A member data dir whose certificate (one minute long) expired a minute ago. */
async function expiredMember(ca: ClusterCa): Promise<{ dataDir: string; expiredAt: string }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-member-exp-'));
  dirs.push(dataDir);
  const { keyPem, csrPem } = await createNodeKeyRequest('s2');
  const issuedAt = Date.now() - 120_000;
  const certPem = await issueCertificate(ca, { csrPem, nodeId: 's2', role: 'manager', validityMs: 60_000, now: issuedAt });
  writeIdentity(tlsDir(dataDir), 'node', { caPem: ca.certPem, certPem, keyPem });
  return { dataDir, expiredAt: new Date(Math.floor((issuedAt + 60_000) / 1000) * 1000).toISOString() };
}

describe('a member whose certificate expired while it was off', () => {
  it('added with --join: one line saying to join again with --join-token', async () => {
    const { dataDir, expiredAt } = await expiredMember(await createClusterCa());
    await expect(joiningMemberCredentials(dataDir, 's2', '127.0.0.1:1', undefined)).rejects.toThrow(
      `this scheduler's certificate expired at ${expiredAt} (it was off longer than the certificate's life): start it with --join-token TOKEN to join again (print it on another member with: pisched join-token manager)`,
    );
  });

  it('a --peers member holds the CA: it issues itself a new certificate', async () => {
    const ca = await createClusterCa();
    const { dataDir } = await expiredMember(ca);
    writePrivateFile(path.join(tlsDir(dataDir), 'ca.key'), ca.keyPem);
    const { identity } = await peersMemberCredentials(dataDir, 's2', path.join(dataDir, 'unused-ca-dir'));
    expect(certificateExpired(identity.certPem)).toBe(false);
    expect(readIdentity(tlsDir(dataDir), 'node')).toEqual(identity);
  });
});
