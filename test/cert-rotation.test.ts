import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readIdentity, type TlsIdentity } from '@pisched/api';
import { Cluster, TEST_IMAGE, cli, cliJson, docker, dockerAvailable, freePort, runningContainersOfService, startAgent, startScheduler, tempDir, uniqueName, waitFor, type SchedulerHandle } from './harness';

/**
 * Issue #12, rotation, end to end: three schedulers and an agent with
 * certificates that live one minute, a service running. Every daemon renews
 * on its own, more than once; the agent's first certificate expires while
 * the test watches, and nothing notices: the same containers and tasks, the
 * node ready throughout, no session lost, the CLI still served.
 */
const hasDocker = await dockerAvailable();

interface TaskRow {
  id: string;
  node: string;
  state: string;
  desiredState: string;
}

const serialOf = (certPem: string) => new X509Certificate(certPem).serialNumber.toLowerCase();
const storedSerial = (dataDir: string) => serialOf(fs.readFileSync(path.join(dataDir, 'tls', 'node.pem'), 'utf8'));
const expiryOf = (dataDir: string) => Date.parse(new X509Certificate(fs.readFileSync(path.join(dataDir, 'tls', 'node.pem'), 'utf8')).validTo);

/** The serial of the certificate a member presents on a new connection. */
function presentedSerial(address: string, client: TlsIdentity): Promise<string> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host, port: Number(port), ca: client.caPem, cert: client.certPem, key: client.keyPem, ALPNProtocols: ['h2'], servername: 'pisched', checkServerIdentity: () => undefined });
    socket.once('secureConnect', () => {
      resolve(socket.getPeerCertificate().serialNumber.toLowerCase());
      socket.end();
    });
    socket.once('error', reject);
  });
}

describe.skipIf(!hasDocker)('certificate rotation', () => {
  const cluster = new Cluster();
  // A loopback /24 of its own, so parallel runs cannot collide.
  const subnet = `127.0.${100 + Math.floor(Math.random() * 150)}`;
  const ids = [uniqueName('r1'), uniqueName('r2'), uniqueName('r3')];
  const dirs = ids.map((id) => tempDir(`rot-${id}`));
  const node = uniqueName('rot-n');
  const svc = uniqueName('rot-svc');
  const members: SchedulerHandle[] = [];
  let all = '';
  let agentDir = '';

  beforeAll(async () => {
    const port = await freePort(`${subnet}.1`);
    const peers = ids.map((id, i) => `${id}=${subnet}.${i + 1}:${port}`).join(',');
    cluster.dirs.push(...dirs);
    cluster.nodeIds.push(node);
    // Together: a member answers only once a majority has elected a leader. Tracked at once, so a
    // start that fails still has its daemons stopped; on a busy machine an election may take a while.
    for (const [i, id] of ids.entries()) {
      const member = await startScheduler({ host: `${subnet}.${i + 1}`, port, dataDir: dirs[i], extraArgs: ['--id', id, '--peers', peers], waitReady: false });
      cluster.track(member.daemon);
      members.push(member);
    }
    all = members.map((member) => member.address).join(',');
    for (const member of members) {
      await waitFor(async () => {
        if (!member.daemon.running) throw new Error('scheduler exited');
        return (await cli(member.address, ['node', 'ls'])).code === 0;
      }, 45_000, `scheduler ${member.address} to answer`).catch((error: Error) => {
        throw new Error(`${error.message}\n${cluster.logs()}`);
      });
    }
  }, 60_000);
  afterAll(async () => {
    await cluster.stop();
  });

  it('renews every daemon\'s certificate on its own with no task restarted, no session lost, the CLI still served', { timeout: 180_000 }, async () => {
    const update = await cli(members[0].address, ['cluster', 'update', '--cert-expiry', '1m']);
    expect(update.code, update.stderr).toBe(0);
    expect(update.stdout).toContain('Cert expiry:      1m');
    expect((await cliJson<{ certExpiryMs: number }>(members[1].address, ['cluster', 'inspect'])).certExpiryMs).toBe(60_000);
    const bad = await cli(members[0].address, ['cluster', 'update', '--cert-expiry', '10s']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim()).toBe('invalid --cert-expiry "10s": a certificate lifetime must be from 1m to 3650d');

    // Joined after the change: the agent's certificate lives one minute.
    const agent = await startAgent(all, node);
    cluster.track(agent.daemon);
    cluster.dirs.push(agent.dataDir);
    agentDir = agent.dataDir;
    await waitFor(async () => (await cliJson<{ id: string; state: string }[]>(members[0].address, ['node', 'ls'])).some((n) => n.id === node && n.state === 'ready'), 30_000, 'the agent to be ready');
    const run = await cli(members[0].address, ['run', '--name', svc, '--replicas', '2', TEST_IMAGE]);
    expect(run.code, run.stderr).toBe(0);

    const containers = (await runningContainersOfService([node], svc)).map((c) => c.Id).sort();
    expect(containers).toHaveLength(2);
    const tasks = (await cliJson<TaskRow[]>(members[0].address, ['ps', svc])).map((t) => t.id).sort();
    expect(tasks).toHaveLength(2);
    const firstAgentSerial = storedSerial(agentDir);
    const firstAgentExpiry = expiryOf(agentDir);
    expect(firstAgentExpiry - Date.now()).toBeLessThanOrEqual(60_000);
    const memberSerials = dirs.map(storedSerial);

    // Watch until the agent's first certificate has expired, checking the node all along.
    const seenAgent = new Set([firstAgentSerial]);
    const seenMembers = dirs.map((_, i) => new Set([memberSerials[i]]));
    while (Date.now() < firstAgentExpiry + 5_000) {
      const nodes = await cliJson<{ id: string; state: string }[]>(members[Math.floor(Math.random() * 3)].address, ['node', 'ls']);
      expect(nodes.find((n) => n.id === node)?.state, cluster.logs()).toBe('ready');
      seenAgent.add(storedSerial(agentDir));
      dirs.forEach((dir, i) => seenMembers[i].add(storedSerial(dir)));
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
    await waitFor(() => seenMembers.every((seen, i) => seen.add(storedSerial(dirs[i])).size >= 3), 60_000, 'every member to renew twice');
    expect(seenAgent.size, cluster.logs()).toBeGreaterThanOrEqual(2);
    // The agent holds the latest certificate, and its key is still owner-only.
    expect(expiryOf(agentDir)).toBeGreaterThan(Date.now());
    expect(fs.statSync(path.join(agentDir, 'tls', 'node.key')).mode & 0o777).toBe(0o600);

    // Each member presents its renewed certificate to new connections, without a restart. A member
    // renews every ~30 s: one may store and present its next certificate between the handshake and
    // the read of its file, so the one presented is the one stored just before or just after.
    const admin = readIdentity(path.join(dirs[0], 'admin'), 'admin')!;
    for (const [i, member] of members.entries()) {
      expect(member.daemon.running).toBe(true);
      const storedBefore = storedSerial(dirs[i]);
      const presented = await presentedSerial(member.address, admin);
      expect([storedBefore, storedSerial(dirs[i])]).toContain(presented);
      expect(presented).not.toBe(memberSerials[i]);
    }

    // Nothing restarted, nothing replaced.
    expect((await runningContainersOfService([node], svc)).map((c) => c.Id).sort()).toEqual(containers);
    for (const id of containers) expect((await docker.getContainer(id).inspect()).RestartCount).toBe(0);
    const after = await cliJson<TaskRow[]>(members[2].address, ['ps', svc]);
    expect(after.map((t) => t.id).sort()).toEqual(tasks);
    expect(after.every((t) => t.state === 'running')).toBe(true);
    // The session was re-dialed with each new certificate, never lost, and never outlived one.
    expect(agent.daemon.output).not.toContain('lost the session');
    expect(agent.daemon.output).toContain('node certificate renewed');
    for (const member of members) expect(member.daemon.output).not.toContain('the certificate this session was opened with expired');
    // The CLI (whose admin bundle is long-lived) is still served by every member.
    for (const member of members) expect((await cli(member.address, ['node', 'ls'])).code).toBe(0);
  });
});
