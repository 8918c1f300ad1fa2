import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createClusterCa, createNodeKeyRequest, issueCertificate, writeIdentity } from '@pisched/api';
import { agentTlsDir, nodeCredentials } from '../src/credentials';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe('an agent\'s stored credentials', () => {
  it('an expired certificate is not used: the agent says in one line to join again with a token', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-agent-cred-'));
    dirs.push(dataDir);
    const ca = await createClusterCa();
    const { keyPem, csrPem } = await createNodeKeyRequest('pi-1');
    // Issued two minutes ago for one minute: the node was off longer than its certificate's life.
    const issuedAt = Date.now() - 120_000;
    const certPem = await issueCertificate(ca, { csrPem, nodeId: 'pi-1', role: 'worker', validityMs: 60_000, now: issuedAt });
    writeIdentity(agentTlsDir(dataDir), 'node', { caPem: ca.certPem, certPem, keyPem });
    const expiredAt = new Date(Math.floor((issuedAt + 60_000) / 1000) * 1000).toISOString();
    await expect(nodeCredentials(dataDir, 'pi-1', ['127.0.0.1:1'], undefined, pino({ level: 'silent' }))).rejects.toThrow(
      `this node's certificate expired at ${expiredAt} (it was off longer than the certificate's life): start the agent with --join-token TOKEN to join again (print it on a scheduler's host with: pisched join-token worker)`,
    );
  });
});
