import * as grpc from '@grpc/grpc-js';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  channelCredentials,
  clusterChannel,
  createClusterCa,
  createNodeKeyRequest,
  formatJoinToken,
  issueCertificate,
  issueIdentity,
  newJoinSecret,
  parseJoinToken,
  readIdentity,
  type Role,
  type TlsIdentity,
} from '@pisched/api';
import { controlCall, raftStream, session } from './grpc-probes';
import { BIN, Cluster, cli, cliJson, dockerAvailable, freePort, joinToken, startScheduler, tempDir, uniqueName, waitFor } from './harness';

/**
 * Issue #12 end to end: real processes and real TLS on one shared cluster (a
 * --peers cluster of one member, so it has a Raft port too). Joining with a
 * bad token stores nothing; a plaintext client, a worker certificate on the
 * Control API or the Raft port, and a session under another node's id are
 * all refused.
 */
const hasDocker = await dockerAvailable();

interface Exit {
  code: number | null;
  output: string;
}

/** Runs an agent that is expected to exit (a refused join), with at most 20 s to do so. */
function agentOnce(args: string[]): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN.agent, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the agent did not exit within 20 s:\n${output}`));
    }, 20_000);
    child.once('exit', (code: number | null) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** The one line the agent gives as its reason (its JSON log lines aside). */
function reason(exit: Exit): string {
  const lines = exit.output.split('\n').filter((line) => line.startsWith('pisched-agent:'));
  expect(lines, exit.output).toHaveLength(1);
  return lines[0];
}

describe.skipIf(!hasDocker)('security: join tokens, mutual TLS, roles', () => {
  const cluster = new Cluster();
  const member = uniqueName('s');
  const joined = uniqueName('sec-a');
  let address = '';
  let raftAddress = '';
  let worker: TlsIdentity;

  beforeAll(async () => {
    const port = await freePort();
    address = `127.0.0.1:${port}`;
    raftAddress = `127.0.0.1:${port + 1}`;
    const dataDir = tempDir('sec-sched');
    cluster.dirs.push(dataDir);
    cluster.scheduler = await startScheduler({ port, dataDir, extraArgs: ['--id', member, '--peers', `${member}=${address}`] });
    cluster.track(cluster.scheduler.daemon);
    const agent = await cluster.addAgent(joined);
    await waitFor(async () => (await cliJson<{ id: string; state: string }[]>(address, ['node', 'ls'])).some((n) => n.id === joined && n.state === 'ready'), 20_000, 'the agent to be ready');
    worker = readIdentity(path.join(agent.dataDir, 'tls'), 'node')!;
  });

  afterAll(async () => {
    await cluster.stop();
  });

  /** A fresh data dir the test removes; checked to hold no credentials after a refusal. */
  const freshDir = (id: string) => {
    const dir = tempDir(`agent-${id}`);
    cluster.dirs.push(dir);
    return dir;
  };
  const noCredentials = (dir: string) => expect(fs.existsSync(path.join(dir, 'tls'))).toBe(false);

  it('stores the joined agent\'s key 0600 and prints the join command', async () => {
    expect(fs.statSync(path.join(cluster.dirs.find((d) => d.includes(`agent-${joined}`))!, 'tls', 'node.key')).mode & 0o777).toBe(0o600);
    const shown = await cli(address, ['join-token', 'worker']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`pisched-agent --node-id NAME --scheduler ${address} --data-dir \\S+ --join-token PSCTKN-1-[0-9a-f]{64}-[0-9a-f]{48}`));
  });

  it('refuses an agent without a token, with a wrong secret, or with another CA\'s token, storing nothing', async () => {
    const token = parseJoinToken(await joinToken(address, 'worker'));
    const cases: [string[], string][] = [
      [[], 'pisched-agent: this node has not joined the cluster: start it once with --join-token TOKEN (print it on a scheduler\'s host with: pisched join-token worker)'],
      [
        ['--join-token', `PSCTKN-1-${token.caDigest}-${newJoinSecret()}`],
        `pisched-agent: scheduler at ${address} refused the join: the join token is not valid for this cluster (a wrong secret, or a token rotated away): ask for a new one with pisched join-token`,
      ],
      [['--join-token', formatJoinToken((await createClusterCa()).certPem, token.secret)], `pisched-agent: scheduler at ${address} presents a different cluster CA than the token names`],
      [['--join-token', 'PSCTKN-1-nonsense'], 'pisched-agent: the join token is malformed: expected PSCTKN-1-<64 hex digits>-<48 hex digits> (print one with pisched join-token worker)'],
    ];
    for (const [args, expected] of cases) {
      const id = uniqueName('sec-x');
      const dir = freshDir(id);
      const exit = await agentOnce(['--node-id', id, '--scheduler', address, '--data-dir', dir, ...args]);
      expect(exit.code, exit.output).toBe(1);
      expect(reason(exit)).toBe(expected);
      expect(exit.output).not.toContain(token.secret);
      noCredentials(dir);
    }
  });

  it('refuses a node id that a live certificate holds', async () => {
    const dir = freshDir(joined);
    const exit = await agentOnce(['--node-id', joined, '--scheduler', address, '--data-dir', dir, '--join-token', await joinToken(address, 'worker')]);
    expect(reason(exit)).toBe(
      `pisched-agent: scheduler at ${address} refused the join: node id ${joined} is already held by a live certificate of this cluster; choose another --node-id`,
    );
    noCredentials(dir);
  });

  it('--rotate invalidates the old worker token at once; the new one works; the manager token is untouched', async () => {
    const old = await joinToken(address, 'worker');
    const manager = await joinToken(address, 'manager');
    const rotated = await cli(address, ['join-token', 'worker', '--rotate', '-q']);
    expect(rotated.code).toBe(0);
    const fresh = rotated.stdout.trim();
    expect(fresh).not.toBe(old);
    expect(await joinToken(address, 'manager')).toBe(manager);
    const refusedId = uniqueName('sec-r');
    const refusedDir = freshDir(refusedId);
    const refused = await agentOnce(['--node-id', refusedId, '--scheduler', address, '--data-dir', refusedDir, '--join-token', old]);
    expect(reason(refused)).toMatch(/refused the join: the join token is not valid for this cluster/);
    noCredentials(refusedDir);
    // The agent joined before the rotation keeps its session.
    const nodes = await cliJson<{ id: string; state: string }[]>(address, ['node', 'ls']);
    expect(nodes.find((n) => n.id === joined)?.state).toBe('ready');
    const late = uniqueName('sec-n');
    await cluster.addAgent(late, ['--join-token', fresh]);
    await waitFor(async () => (await cliJson<{ id: string; state: string }[]>(address, ['node', 'ls'])).some((n) => n.id === late && n.state === 'ready'), 20_000, 'the agent joined with the new token');
  });

  it('refuses a plaintext client at the handshake, on both ports', async () => {
    expect(await controlCall(address, grpc.credentials.createInsecure(), 'ListNodes')).toMatch(/^UNAVAILABLE/);
    expect(await raftStream(raftAddress, grpc.credentials.createInsecure())).toMatch(/^UNAVAILABLE/);
  });

  it('a worker certificate may not use the Control API, open another node\'s session, or speak Raft', { timeout: 30_000 }, async () => {
    const asWorker = channelCredentials(worker);
    expect(await controlCall(address, asWorker, 'ListNodes')).toBe(
      `PERMISSION_DENIED: the Control API (ListNodes) needs an admin certificate of this cluster; the caller presented a worker certificate (${joined})`,
    );
    expect(await controlCall(address, asWorker, 'GetJoinToken', { role: 'worker' })).toMatch(/^PERMISSION_DENIED: the Control API \(GetJoinToken\) needs an admin/);
    const other = uniqueName('sec-o');
    expect(await session(address, asWorker, other)).toBe(
      `PERMISSION_DENIED: a session as node ${other} needs a worker certificate naming ${other}; the caller presented a worker certificate (${joined})`,
    );
    expect(await raftStream(raftAddress, asWorker)).toBe(
      `PERMISSION_DENIED: the Raft port needs a manager certificate of this cluster; the caller presented a worker certificate (${joined})`,
    );
  });

  it('an expired certificate of this cluster is refused on every port', { timeout: 30_000 }, async () => {
    const tls = path.join(cluster.scheduler.dataDir, 'tls');
    const ca = { certPem: fs.readFileSync(path.join(tls, 'ca.pem'), 'utf8'), keyPem: fs.readFileSync(path.join(tls, 'ca.key'), 'utf8') };
    // Signed by the real root ten minutes ago, for one minute: expired since nine.
    const expired = async (nodeId: string, role: Role): Promise<TlsIdentity> => {
      const { keyPem, csrPem } = await createNodeKeyRequest(nodeId);
      return { caPem: ca.certPem, keyPem, certPem: await issueCertificate(ca, { csrPem, nodeId, role, validityMs: 60_000, now: Date.now() - 600_000 }) };
    };
    const admin = channelCredentials(await expired(uniqueName('sec-x'), 'admin'));
    expect(await controlCall(address, admin, 'ListNodes')).toMatch(/^PERMISSION_DENIED: the Control API \(ListNodes\) needs an admin certificate of this cluster; the caller presented no cluster certificate$/);
    const node = uniqueName('sec-x');
    expect(await session(address, channelCredentials(await expired(node, 'worker')), node)).toMatch(/^PERMISSION_DENIED: a session as node .* the caller presented no cluster certificate$/);
    // The Raft port asks for a valid certificate at the handshake itself.
    expect(await raftStream(raftAddress, channelCredentials(await expired(uniqueName('sec-x'), 'manager')))).toMatch(/^UNAVAILABLE/);
  });

  it('an admin certificate of another cluster is refused; this cluster\'s admin is served', async () => {
    const admin = readIdentity(path.join(cluster.scheduler.dataDir, 'admin'), 'admin')!;
    expect(await controlCall(address, clusterChannel(admin).credentials, 'ListNodes')).toBe('OK');
    const ca = await createClusterCa();
    const stranger = await issueIdentity(ca, 'admin', 'admin');
    // Trusting the real root, presenting a certificate it did not sign: the handshake verifies nothing, so no rights.
    expect(await controlCall(address, channelCredentials({ ...stranger, caPem: admin.caPem }), 'ListNodes')).toMatch(/^PERMISSION_DENIED: .*presented no cluster certificate$/);
  });
});
