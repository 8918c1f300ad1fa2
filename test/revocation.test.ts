import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelCredentials, readIdentity } from '@pisched/api';
import { controlCall, raftStream, session } from './grpc-probes';
import { Cluster, TEST_IMAGE, cli, cliJson, dockerAvailable, freePort, startScheduler, tempDir, uniqueName, waitFor, type AgentHandle } from './harness';

/**
 * Issue #12 item 8 end to end, on one shared cluster (real processes, real
 * TLS, real Docker): a node removed with `node rm --force` is refused although
 * its certificate has not expired (its open session is closed, a new dial is
 * refused with one line), cannot come back with that certificate, and can with
 * a join token; `node rm` of a ready node is refused without --force; an admin
 * bundle made with `admin issue` works until `admin revoke`; a member taken
 * out with `cluster remove` is refused on the Raft port and the Control API.
 * The cluster is a --peers cluster of one member, so it has a Raft port.
 */
const hasDocker = await dockerAvailable();

interface NodeRow {
  id: string;
  state: string;
}
interface StatusRow {
  members: { id: string; voter: boolean; reachable: boolean }[];
}
interface TaskRow {
  node: string;
  desiredState: string;
  state: string;
}

const REVOKED = (node: string) => `the certificate of node ${node} was revoked (node removed); rejoin with a new join token`;

/** The agent's log lines (pino JSON) that say it was refused as revoked. */
const refusedLines = (agent: AgentHandle) => agent.daemon.output.split('\n').filter((line) => line.includes('was revoked'));

describe.skipIf(!hasDocker)('removal and revocation', () => {
  const cluster = new Cluster();
  const victim = uniqueName('rev-v');
  const keeper = uniqueName('rev-k');
  const svc = uniqueName('rev-svc');
  const member = uniqueName('s');
  let port = 0;
  let victimAgent: AgentHandle;

  const nodes = () => cliJson<NodeRow[]>(cluster.address, ['node', 'ls']);
  const ready = async (id: string) => (await nodes()).some((node) => node.id === id && node.state === 'ready');

  beforeAll(async () => {
    port = await freePort();
    const dataDir = tempDir('rev-sched');
    cluster.dirs.push(dataDir);
    const address = `127.0.0.1:${port}`;
    cluster.scheduler = await startScheduler({ port, dataDir, extraArgs: ['--id', member, '--peers', `${member}=${address}`] });
    cluster.track(cluster.scheduler.daemon);
    await cluster.addAgent(keeper);
    victimAgent = await cluster.addAgent(victim);
    await waitFor(async () => (await ready(keeper)) && (await ready(victim)), 20_000, 'both agents to be ready');
  });

  afterAll(async () => {
    await cluster.stop();
  });

  it('node rm of a ready, undrained node is refused in one line without --force, and changes nothing', async () => {
    const refused = await cli(cluster.address, ['node', 'rm', victim]);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe(
      `node ${victim} is ready and not drained: drain it first (pisched node update --availability drain ${victim}) or remove it anyway with --force`,
    );
    expect(await ready(victim)).toBe(true);
    const unknown = await cli(cluster.address, ['node', 'rm', '--force', uniqueName('rev-none')]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toMatch(/^node rev-none-\S+ not found$/);
  });

  it('node rm --force revokes a live agent: its session closes at once, its tasks move, its certificate is refused from then on', async () => {
    const run = await cli(cluster.address, ['run', '--name', svc, '--replicas', '2', '--placement-strategy', 'spread', TEST_IMAGE]);
    expect(run.code, run.stderr).toBe(0);
    const placed = (await cliJson<TaskRow[]>(cluster.address, ['ps', svc])).filter((task) => task.desiredState === 'running');
    expect(placed.map((task) => task.node).sort()).toEqual([keeper, victim].sort());
    const certificate = readIdentity(path.join(victimAgent.dataDir, 'tls'), 'node')!;
    expect(new Date(new X509Certificate(certificate.certPem).validTo).getTime()).toBeGreaterThan(Date.now());

    const removed = await cli(cluster.address, ['node', 'rm', '--force', victim]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toBe(`${victim}\n`);
    // The open session is ended by the scheduler, not at the agent's next reconnect.
    await waitFor(() => refusedLines(victimAgent).length > 0, 5_000, 'the agent to be told its certificate was revoked');
    expect(cluster.scheduler.daemon.output).toMatch(new RegExp(`"node":"${victim}".*"msg":"closed an agent session"`));
    expect(refusedLines(victimAgent)).toHaveLength(1);
    expect(JSON.parse(refusedLines(victimAgent)[0]).msg).toBe(`refused by scheduler ${cluster.address}: ${REVOKED(victim)}`);
    expect((await nodes()).map((node) => node.id)).not.toContain(victim);

    // A new dial with the same, unexpired certificate: refused with the one line.
    expect(await session(cluster.address, channelCredentials(certificate), victim)).toBe(`PERMISSION_DENIED: ${REVOKED(victim)}`);

    // Its task is replaced on the node left, and the one it had is orphaned rather than shown running.
    await waitFor(async () => {
      const tasks = await cliJson<TaskRow[]>(cluster.address, ['ps', svc]);
      const live = tasks.filter((task) => task.desiredState === 'running' && task.state === 'running');
      const orphaned = tasks.filter((task) => task.node === victim && task.state === 'orphaned');
      return live.length === 2 && live.every((task) => task.node === keeper) && orphaned.length === 1;
    }, 30_000, 'the removed node\'s task to be replaced and orphaned');
    // Refused, the agent does not retry hot: still one line some seconds on.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(refusedLines(victimAgent)).toHaveLength(1);
    await victimAgent.daemon.stop();
  });

  it('the removed node cannot come back with its old certificate, and can with a join token', async () => {
    const again = await cluster.addAgent(victim, [], victimAgent.dataDir);
    await waitFor(() => refusedLines(again).length > 0, 10_000, 'the restarted agent to be refused');
    expect(JSON.parse(refusedLines(again)[0]).msg).toBe(`refused by scheduler ${cluster.address}: ${REVOKED(victim)}`);
    expect((await nodes()).map((node) => node.id)).not.toContain(victim);
    await again.daemon.stop();

    // Rejoining: new credentials for the same node id, for the cluster's join token.
    fs.rmSync(path.join(victimAgent.dataDir, 'tls'), { recursive: true, force: true });
    const rejoined = await cluster.addAgent(victim, [], victimAgent.dataDir);
    await waitFor(() => ready(victim), 20_000, 'the rejoined agent to be ready');
    expect(refusedLines(rejoined)).toHaveLength(0);
  });

  it('admin issue writes a bundle the CLI uses with --tls-dir; admin revoke makes it refused, and refuses a node\'s name', async () => {
    const name = uniqueName('rev-admin');
    const out = path.join(tempDir('rev-admin'), 'bundle');
    cluster.dirs.push(path.dirname(out));
    const issued = await cli(cluster.address, ['admin', 'issue', name, '--out', out]);
    expect(issued.code, issued.stderr).toBe(0);
    expect(fs.statSync(path.join(out, 'admin.key')).mode & 0o777).toBe(0o600);
    // The CLI does not renew, so a bundle outlives node certificates (five years, as the first one).
    const expires = Date.parse(new X509Certificate(fs.readFileSync(path.join(out, 'admin.pem'))).validTo);
    expect(expires - Date.now()).toBeGreaterThan(4 * 365 * 86_400_000);
    const asNew = await cli(cluster.address, ['--tls-dir', out, 'node', 'ls', '--json']);
    expect(asNew.code, asNew.stderr).toBe(0);
    expect((JSON.parse(asNew.stdout) as NodeRow[]).map((node) => node.id)).toContain(keeper);

    const twice = await cli(cluster.address, ['admin', 'issue', name, '--out', path.join(path.dirname(out), 'other')]);
    expect(twice.code).toBe(1);
    expect(twice.stderr.trim()).toBe(`${name} is already held by a live certificate of this cluster; choose another name, or revoke it first (pisched admin revoke ${name})`);
    const notAdmin = await cli(cluster.address, ['admin', 'revoke', keeper]);
    expect(notAdmin.code).toBe(1);
    expect(notAdmin.stderr.trim()).toBe(`${keeper} is a worker certificate, not an admin's: remove a node with pisched node rm, a scheduler with pisched cluster remove`);
    expect(await ready(keeper)).toBe(true);

    const overwrite = await cli(cluster.address, ['admin', 'issue', uniqueName('rev-admin'), '--out', out]);
    expect(overwrite.code).toBe(1);
    expect(overwrite.stderr.trim()).toBe(`${out} holds an admin bundle already; choose another --out`);
    // The CLI's own bundle (the first scheduler's, named admin): revoking it would lock this CLI out.
    const own = await cli(cluster.address, ['admin', 'revoke', 'admin']);
    expect(own.code).toBe(1);
    expect(own.stderr.trim()).toBe('admin is the admin certificate this command is using; revoke it with another admin\'s bundle (--tls-dir)');

    const revoked = await cli(cluster.address, ['admin', 'revoke', name]);
    expect(revoked.code, revoked.stderr).toBe(0);
    const refused = await cli(cluster.address, ['--tls-dir', out, 'node', 'ls']);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe(`the admin certificate ${name} was revoked; ask an admin for a new bundle (pisched admin issue)`);
    const listed = await cliJson<{ name: string; revoked: boolean }[]>(cluster.address, ['admin', 'ls']);
    expect(listed.filter((cert) => cert.name === name).map((cert) => cert.revoked)).toEqual([true]);
  });

  it('cluster remove revokes the member: it stops, and its certificate is refused on the Raft port and the Control API', async () => {
    const second = uniqueName('s');
    const secondPort = await freePort();
    // --join alone: the member asks to be added once it holds its certificate and can answer at once.
    // (Registered first with cluster join, a learner of a young log can be made a voter before its
    // process runs, leaving a one-member cluster without a quorum meanwhile.)
    const dataDir = tempDir('rev-s2');
    cluster.dirs.push(dataDir);
    const joined = await startScheduler({ port: secondPort, dataDir, extraArgs: ['--id', second, '--join', cluster.address], waitReady: false });
    cluster.track(joined.daemon);
    await waitFor(async () => {
      const status = await cliJson<StatusRow>(cluster.address, ['cluster', 'status']);
      return status.members.length === 2 && status.members.every((m) => m.voter && m.reachable);
    }, 30_000, 'the second member to be a voter').catch((error: Error) => {
      throw new Error(`${error.message}\n${joined.daemon.tail(15)}\n${cluster.scheduler.daemon.tail(15)}`);
    });
    const credentials = channelCredentials(readIdentity(path.join(dataDir, 'tls'), 'node')!);
    expect(await controlCall(cluster.address, credentials, 'GetClusterStatus', { localOnly: true })).toBe('OK');

    const removed = await cli(cluster.address, ['cluster', 'remove', second]);
    expect(removed.code, removed.stderr).toBe(0);
    await waitFor(() => !joined.daemon.running, 15_000, `the removed member to stop\n${joined.daemon.tail(8)}`);
    const refusal = `PERMISSION_DENIED: the certificate of scheduler ${second} was revoked (member removed); rejoin with --join and a new manager join token`;
    expect(await raftStream(`127.0.0.1:${port + 1}`, credentials)).toBe(refusal);
    expect(await controlCall(cluster.address, credentials, 'GetClusterStatus', { localOnly: true })).toBe(refusal);
  });
});
