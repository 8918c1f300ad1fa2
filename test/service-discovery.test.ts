import { execFileSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as http from 'node:http';
import { Cluster, TEST_IMAGE, cli, cliJson, docker, dockerAvailable, freePort, runningContainersOfService, uniqueName, waitFor } from './harness';
import { HOSTNAME_HTTP_SERVER as HTTP_SERVER } from './hostname-http';
import { demultiplex } from '../packages/agent/src/docker-log-stream';
import { VipRange } from '../packages/agent/src/discovery/vip-range';
import { dockerNetworkName } from '../packages/agent/src/discovery/docker-networks';
import { buildAnswer, parseQuery, RCODE_NXDOMAIN, RCODE_OK, TYPE_A } from '../packages/agent/src/discovery/dns-message';

const hasDocker = await dockerAvailable();

// Two "Pis" on one machine and one engine: each agent advertises its own
// loopback address (a /24 of 127/8 per test process, apart from the routing
// mesh test's) and hands out VIPs from its own block of 198.18.0.0/15, the
// range set aside for benchmarks: those addresses live on the agent's own
// pisched-* interface and never leave the machine.
const NET = `127.${200 + (process.pid % 50)}.${process.pid % 250}`;
const VIP_BLOCK = `198.19.${process.pid % 250}`;
const ranges = { a: VipRange.parse(`${VIP_BLOCK}.0/26`), b: VipRange.parse(`${VIP_BLOCK}.64/26`) };
// The node's "upstream" resolver, on loopback: what names that are not services' are forwarded to.
const UPSTREAM = `${NET}.53`;
const OUTSIDE_NAME = 'outside.pisched.test';
const OUTSIDE_ADDRESS = '192.0.2.77';


/** A command run in a container through the engine's exec API, as `docker exec` would. */
async function exec(containerId: string, cmd: string[]): Promise<{ code: number; stdout: string; ms: number }> {
  const started = Date.now();
  const run = await docker.getContainer(containerId).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await run.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  await new Promise((resolve) => stream.once('end', resolve));
  const { ExitCode } = await run.inspect();
  const { stdout, stderr } = demultiplex(Buffer.concat(chunks));
  return { code: ExitCode ?? -1, stdout: stdout.toString() + stderr.toString(), ms: Date.now() - started };
}

/**
 * One HTTP request from inside a container; the body's last line. The test image's static
 * busybox wget crashes (glibc's NSS is absent), so the request is written with nc to an address.
 */
async function httpGet(containerId: string, address: string): Promise<{ code: number; body: string }> {
  const got = await exec(containerId, ['sh', '-c', `printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 ${address} 80`]);
  const lines = got.stdout.trim().split('\n');
  return { code: got.stdout.startsWith('HTTP/1.') && / 200 /.test(lines[0]!) ? got.code : 1, body: lines[lines.length - 1]!.trim() };
}

/** The answer addresses of busybox nslookup's output (the server's own line ends in :53). */
function answers(output: string): string[] {
  return [...output.matchAll(/^Address:\s+(\d+\.\d+\.\d+\.\d+)\s*$/gm)].map((m) => m[1]!).sort();
}

function inRange(address: string, range: VipRange): boolean {
  const last = Number(address.split('.')[3]);
  const first = Number(range.address(1).split('.')[3]);
  return address.startsWith(`${VIP_BLOCK}.`) && last >= first && last < first + range.size - 2;
}

function interfaceExists(name: string): boolean {
  return execFileSync('ip', ['-br', 'link']).toString().split('\n').some((line) => line.startsWith(`${name} `));
}

/** A stand-in for the node's resolver: knows one outside name, says NXDOMAIN to the rest. */
function startUpstream(): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (message, from) => {
    const query = parseQuery(message);
    if (!query) return;
    const known = query.name === OUTSIDE_NAME;
    const reply = buildAnswer(query, known ? RCODE_OK : RCODE_NXDOMAIN, known && query.type === TYPE_A ? [OUTSIDE_ADDRESS] : []);
    socket.send(reply, from.port, from.address);
  });
  return new Promise((resolve) => socket.bind(53, UPSTREAM, () => resolve(socket)));
}

describe.skipIf(!hasDocker)('service discovery: services on one network find each other by name across two agents', () => {
  const cluster = new Cluster();
  const [a, b] = [uniqueName('disc-a'), uniqueName('disc-b')];
  const address: Record<string, string> = { [a]: `${NET}.31`, [b]: `${NET}.32` };
  const range: Record<string, VipRange> = { [a]: ranges.a, [b]: ranges.b };
  const [front, back] = [uniqueName('disc-front'), uniqueName('disc-back')];
  const [srv, client, stranger] = [uniqueName('srv'), uniqueName('client'), uniqueName('stranger')];
  const [rr, near, bare] = [uniqueName('rr'), uniqueName('near'), uniqueName('bare')];
  // The test image with EXPOSE 80 and nothing else, as most images name their port.
  const EXPOSING_IMAGE = `pisched-test/exposes:${uniqueName('t')}`;
  let upstream: dgram.Socket | undefined;
  let clientId = '';
  let strangerId = '';

  beforeAll(async () => {
    upstream = await startUpstream();
    await cluster.start([a, b], (id) => ['--advertise-addr', address[id], '--mesh-listen', 'advertise', '--vip-range', range[id].text, '--dns-upstream', UPSTREAM]);
  });
  afterAll(async () => {
    await cluster.stop();
    upstream?.close();
    // Whatever a failed run left: the interfaces (the agents remove them on a clean stop) and the engine networks.
    for (const r of Object.values(ranges)) {
      try {
        execFileSync('ip', ['link', 'del', r.interfaceName], { stdio: 'ignore' });
      } catch {
        // not there: the agent removed it
      }
    }
    for (const network of [front, back]) await docker.getNetwork(dockerNetworkName(network)).remove().catch(() => undefined);
    await docker.getImage(EXPOSING_IMAGE).remove({ force: true }).catch(() => undefined);
  });

  it('creates and lists networks, refusing a taken or reserved name with one line', async () => {
    for (const network of [front, back]) expect((await cli(cluster.address, ['network', 'create', network])).code).toBe(0);
    const listed = await cliJson<{ name: string }[]>(cluster.address, ['network', 'ls']);
    expect(listed.map((n) => n.name)).toEqual(expect.arrayContaining([front, back]));
    const again = await cli(cluster.address, ['network', 'create', front]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe(`network name ${front} is already in use`);
    const reserved = await cli(cluster.address, ['network', 'create', 'host']);
    expect(reserved.stderr.trim()).toBe('network name host is reserved');
    const missing = await cli(cluster.address, ['run', '--name', uniqueName('nonet'), '--network', 'no-such-net', TEST_IMAGE]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe('network no-such-net not found: create it first (pisched network create no-such-net)');
  });

  it('a client resolves NAME to a VIP and tasks.NAME to the tasks, and reaches both replicas on the other node by name', async () => {
    const runs = [
      ['run', '--name', srv, '--replicas', '2', '--network', front, '--expose', '80', '--constraint', `node.id==${a}`, TEST_IMAGE, ...HTTP_SERVER],
      ['run', '--name', client, '--network', front, '--constraint', `node.id==${b}`, TEST_IMAGE, 'sleep', '3600'],
      // The image's own command, which exits on SIGTERM: `sleep` as PID 1 ignored it, and its move to another network waited out the 10 s stop grace.
      ['run', '--name', stranger, '--network', back, '--constraint', `node.id==${b}`, TEST_IMAGE],
    ];
    for (const args of runs) {
      const run = await cli(cluster.address, args);
      expect(run.code, `${args.join(' ')}: ${run.stderr}\n${cluster.logs()}`).toBe(0);
    }
    const replicas = (await runningContainersOfService([a], srv)).map((c) => c.Id.slice(0, 12)).sort();
    expect(replicas).toHaveLength(2);
    clientId = (await runningContainersOfService([b], client))[0]!.Id;
    strangerId = (await runningContainersOfService([b], stranger))[0]!.Id;

    const vip = await waitFor(async () => {
      const found = answers((await exec(clientId, ['nslookup', srv])).stdout);
      return found.length === 1 && found[0];
    }, 10_000, `${srv} to resolve in the client`);
    // The client's own node (b) answers, from its own range.
    expect(inRange(vip, range[b])).toBe(true);
    const tasks = await waitFor(async () => {
      const found = answers((await exec(clientId, ['nslookup', `tasks.${srv}`])).stdout);
      return found.length === 2 && found;
    }, 10_000, `tasks.${srv} to list both tasks`);
    for (const task of tasks) expect(inRange(task, range[b])).toBe(true);
    expect(tasks).not.toContain(vip);

    // Through the VIP, round robin over both replicas, which run on the other node. (At the
    // address nslookup found: the test image's static busybox cannot look names up itself.)
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const got = await httpGet(clientId, vip);
      expect(got.code, `${vip}: ${got.body}\n${cluster.daemons.map((d) => d.output.split('\n').filter((l) => /mesh|discovery/.test(l)).slice(-15).join('\n')).join('\n')}`).toBe(0);
      seen.add(got.body);
    }
    expect([...seen].sort()).toEqual(replicas);
    // Each task's own address reaches that task alone.
    const byTask = new Set<string>();
    for (const task of tasks) {
      const got = await httpGet(clientId, task);
      expect(got.code, got.body).toBe(0);
      byTask.add(got.body);
    }
    expect([...byTask].sort()).toEqual(replicas);
  });

  it('--endpoint-mode dnsrr: NAME resolves to the tasks\' addresses, no VIP; --lb-prefer-local: VIP and ingress traffic stays on the node', async () => {
    const port = await freePort(address[a]);
    const runs = [
      ['run', '--name', rr, '--network', front, '--endpoint-mode', 'dnsrr', '--expose', '80', '--constraint', `node.id==${a}`, TEST_IMAGE, ...HTTP_SERVER],
      ['run', '--name', near, '--replicas', '2', '--max-per-node', '1', '--network', front, '--lb-prefer-local', '-p', `${port}:80`, TEST_IMAGE, ...HTTP_SERVER],
    ];
    for (const args of runs) {
      const run = await cli(cluster.address, args);
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(0);
    }
    const rrTasks = await waitFor(async () => {
      const byName = answers((await exec(clientId, ['nslookup', rr])).stdout);
      const byTasks = answers((await exec(clientId, ['nslookup', `tasks.${rr}`])).stdout);
      return byName.length === 1 && byName.join() === byTasks.join() && byName;
    }, 10_000, `${rr} to resolve to its task`);
    expect(inRange(rrTasks[0]!, range[b])).toBe(true);
    const rrContainer = (await runningContainersOfService([a], rr))[0]!.Id.slice(0, 12);
    expect((await httpGet(clientId, rrTasks[0]!)).body).toBe(rrContainer);

    const [onA] = (await runningContainersOfService([a], near)).map((c) => c.Id.slice(0, 12));
    const [onB] = (await runningContainersOfService([b], near)).map((c) => c.Id.slice(0, 12));
    expect(onA && onB).toBeTruthy();
    const nearVip = await waitFor(async () => answers((await exec(clientId, ['nslookup', near])).stdout)[0], 10_000, `${near} to resolve`);
    // The client runs on b: every connection to the VIP goes to b's replica.
    const viaVip = new Set<string>();
    for (let i = 0; i < 4; i++) viaVip.add((await httpGet(clientId, nearVip)).body);
    expect([...viaVip]).toEqual([onB]);
    // Ingress on a's address: a's replica only, though b's is in the table too.
    const viaIngress = new Set<string>();
    for (let i = 0; i < 4; i++) {
      viaIngress.add(await new Promise<string>((resolve) => {
        http.get({ host: address[a], port, path: '/', agent: false, timeout: 3_000 }, (response) => {
          let body = '';
          response.on('data', (chunk) => (body += chunk));
          response.on('end', () => resolve(body.trim()));
        }).on('error', (error) => resolve(error.message));
      }));
    }
    expect([...viaIngress]).toEqual([onA]);
  });

  it('does not resolve the name on another network, and forwards other names to the node\'s resolver', async () => {
    const fromStranger = await exec(strangerId, ['nslookup', srv]);
    expect(answers(fromStranger.stdout)).toEqual([]);
    expect(fromStranger.stdout).toMatch(/can't find|NXDOMAIN/);
    expect(fromStranger.ms).toBeLessThan(5_000);

    const outside = await exec(clientId, ['nslookup', OUTSIDE_NAME]);
    expect(answers(outside.stdout)).toEqual([OUTSIDE_ADDRESS]);
    const unknown = await exec(clientId, ['nslookup', 'nothing-here.pisched.test']);
    expect(answers(unknown.stdout)).toEqual([]);
    expect(unknown.ms).toBeLessThan(5_000);
  });

  it('a service whose spec names no port is reached through its VIP on the port its image exposes, as in Swarm', async () => {
    const [repo, tag] = EXPOSING_IMAGE.split(':');
    const base = await docker.createContainer({ Image: TEST_IMAGE, Cmd: ['true'] });
    await base.commit({ repo, tag, changes: 'EXPOSE 80' });
    await base.remove();
    const run = await cli(cluster.address, ['run', '--name', bare, '--network', front, '--constraint', `node.id==${a}`, EXPOSING_IMAGE, ...HTTP_SERVER]);
    expect(run.code, run.stderr).toBe(0);
    const replica = (await runningContainersOfService([a], bare))[0]!.Id.slice(0, 12);
    const vip = await waitFor(async () => {
      const found = answers((await exec(clientId, ['nslookup', bare])).stdout);
      return found.length === 1 && found[0];
    }, 10_000, `${bare} to resolve in the client`);
    // The VIP learns the port from the task's report, a moment after the name resolves.
    const got = await waitFor(async () => {
      const answer = await httpGet(clientId, vip);
      return answer.code === 0 && answer;
    }, 10_000, `${bare}'s VIP to answer on port 80`);
    expect(got.body).toBe(replica);
  });

  it('update --network-add/--network-rm moves a service to another network: its new task resolves the names there', async () => {
    // A 1 s window instead of the default 5 s: what is checked is where the new task is attached, not how long it lasts.
    const moved = await cli(cluster.address, ['update', stranger, '--network-add', front, '--network-rm', back, '--update-monitor', '1s']);
    expect(moved.code, moved.stderr).toBe(0);
    // The update has finished when it returns: one container, made after the change.
    const containers = await runningContainersOfService([b], stranger);
    expect(containers).toHaveLength(1);
    expect(containers[0]!.Id).not.toBe(strangerId);
    const found = await waitFor(async () => {
      const got = answers((await exec(containers[0]!.Id, ['nslookup', srv])).stdout);
      return got.length === 1 && got;
    }, 10_000, `${srv} to resolve in ${stranger} once it joined ${front}`);
    expect(inRange(found[0]!, range[b])).toBe(true);
  });

  it('refuses to remove a network in use; once its services go, removes it and the agents take their interfaces down', async () => {
    const refused = await cli(cluster.address, ['network', 'rm', front]);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe(`network ${front} is in use by services ${[bare, client, near, rr, srv, stranger].sort().join(', ')}: remove them from it first`);
    expect(interfaceExists(range[a].interfaceName) && interfaceExists(range[b].interfaceName)).toBe(true);

    expect((await cli(cluster.address, ['rm', srv, client, stranger, rr, near, bare])).code).toBe(0);
    await waitFor(() => !interfaceExists(range[a].interfaceName) && !interfaceExists(range[b].interfaceName), 15_000, 'the discovery interfaces to go');
    await waitFor(async () => {
      const removed = await cli(cluster.address, ['network', 'rm', front, back]);
      return removed.code === 0;
    }, 15_000, 'the networks to be removable once their tasks are gone');
    expect(await cliJson<{ name: string }[]>(cluster.address, ['network', 'ls'])).toEqual([]);
  });
});
