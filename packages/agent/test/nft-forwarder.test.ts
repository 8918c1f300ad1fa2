import { execFile, execFileSync, spawn } from 'node:child_process';
import * as dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import * as net from 'node:net';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, Route } from '../src/mesh/endpoint-table';
import { ANY_ADDRESS } from '../src/mesh/forwarder';
import { NftForwarder } from '../src/mesh/nft-forwarder';
import { meshTableName } from '../src/mesh/nft-ruleset';
import { NFT_BINARY, runNft } from '../src/mesh/nft';

// Real nftables on loopback addresses of a /24 of 127/8 picked per test process
// (the route's address .9, backends .1–.3): the output hook sees these
// connections as it sees any made on the node itself.
const NET = `127.${200 + (process.pid % 50)}.${process.pid % 250}`;
const ROUTE_ADDRESS = `${NET}.9`;
const log = pino({ level: 'silent' });

const closers: Array<() => unknown> = [];
const tablesMade = new Set<string>();

function tables(): string[] {
  return execFileSync(NFT_BINARY, ['list', 'tables'], { encoding: 'utf8' }).split('\n').map((line) => line.trim()).filter((line) => line !== '');
}

function deleteTable(name: string): void {
  try {
    execFileSync(NFT_BINARY, ['delete', 'table', 'ip', name], { stdio: 'ignore' });
  } catch {
    // already gone
  }
}

/** Our rules in Docker's DOCKER-USER chain (iptables -S lines), by the table name in their comment. */
function forwardAccepts(): string[] {
  let listed = '';
  try {
    listed = execFileSync('iptables', ['-w', '5', '-S', 'DOCKER-USER'], { encoding: 'utf8' });
  } catch {
    return [];
  }
  return listed.split('\n').filter((line) => [...tablesMade].some((table) => line.includes(`--comment ${table}`)));
}

function deleteForwardAccepts(): void {
  for (const line of forwardAccepts()) execFileSync('iptables', ['-w', '5', '-D', ...line.split(' ').slice(1)], { stdio: 'ignore' });
}

beforeAll(() => {
  // Under CI this must fail, never skip: the kernel forwarder is nothing without nft.
  if (!existsSync(NFT_BINARY)) throw new Error(`${NFT_BINARY} is missing: install nftables`);
});
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  for (const table of tablesMade) deleteTable(table);
  deleteForwardAccepts();
});
afterAll(() => {
  const left = tables().filter((line) => [...tablesMade].some((table) => line.endsWith(` ${table}`)));
  expect(left).toEqual([]);
  expect(forwardAccepts()).toEqual([]);
});

/** A forwarder whose table is deleted after the test even if it fails. */
function forwarder(address = ROUTE_ADDRESS): NftForwarder {
  tablesMade.add(meshTableName(address));
  const made = new NftForwarder(log);
  closers.push(() => made.close());
  return made;
}

/** A TCP server that answers each line with its name, keeping the connection open. */
function tcpServer(address: string, name: string): Promise<number> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.on('data', () => socket.write(`${name}\n`));
  });
  closers.push(() => new Promise((resolve) => server.close(resolve)));
  return new Promise((resolve) => server.listen(0, address, () => resolve((server.address() as net.AddressInfo).port)));
}

function udpServer(address: string, name: string): Promise<number> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (_message, from) => socket.send(`${name}\n`, from.port, from.address));
  closers.push(() => socket.close());
  return new Promise((resolve) => socket.bind(0, address, () => resolve(socket.address().port)));
}

async function freePort(address: string): Promise<number> {
  const server = net.createServer();
  const port = await new Promise<number>((resolve) => server.listen(0, address, () => resolve((server.address() as net.AddressInfo).port)));
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A connection to the route, kept open: ask() sends a line and reads the answer. */
async function connect(port: number): Promise<{ ask: () => Promise<string>; close: () => void }> {
  const socket = net.connect(port, ROUTE_ADDRESS);
  socket.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  closers.push(() => socket.destroy());
  return {
    ask: () => new Promise((resolve, reject) => {
      socket.once('data', (chunk: string) => resolve(chunk.trim()));
      socket.once('error', reject);
      socket.write('hello\n');
    }),
    close: () => socket.destroy(),
  };
}

async function askOnce(port: number): Promise<string> {
  const connection = await connect(port);
  const answer = await connection.ask();
  connection.close();
  return answer;
}

/** One datagram from a new socket (a new flow), and the answer. */
async function askUdp(port: number): Promise<string> {
  const socket = dgram.createSocket('udp4');
  try {
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no UDP answer')), 2_000);
      socket.once('message', (message) => {
        clearTimeout(timer);
        resolve(message.toString().trim());
      });
      socket.send('hello', port, ROUTE_ADDRESS);
    });
  } finally {
    socket.close();
  }
}

function route(publishedPort: number, protocol: 'tcp' | 'udp', backends: Backend[], preferLocal = false): Route {
  return { key: `${publishedPort}/${protocol}`, publishedPort, protocol, serviceName: 'web', backends, preferLocal };
}

const backend = (taskId: string, address: string, port: number, local = false): Backend => ({ taskId, address, port, local });

async function answers(count: number, ask: () => Promise<string>): Promise<string[]> {
  const seen: string[] = [];
  for (let i = 0; i < count; i++) seen.push(await ask());
  return seen.sort();
}

describe('the nftables forwarder', () => {
  it('spreads TCP connections and UDP flows round robin; an update takes a backend out of new connections while an open one to it goes on', async () => {
    const [one, two, three] = [await tcpServer(`${NET}.1`, 'one'), await tcpServer(`${NET}.2`, 'two'), await tcpServer(`${NET}.3`, 'three')];
    const [uOne, uTwo] = [await udpServer(`${NET}.1`, 'u-one'), await udpServer(`${NET}.2`, 'u-two')];
    const port = await freePort(ROUTE_ADDRESS);
    const mesh = forwarder();
    mesh.sync(ROUTE_ADDRESS, [
      route(port, 'tcp', [backend('a', `${NET}.1`, one), backend('b', `${NET}.2`, two)]),
      route(port, 'udp', [backend('a', `${NET}.1`, uOne), backend('b', `${NET}.2`, uTwo)]),
    ]);
    await mesh.settled();
    expect(tables()).toContain(`table ip ${meshTableName(ROUTE_ADDRESS)}`);
    expect(await answers(4, () => askOnce(port))).toEqual(['one', 'one', 'two', 'two']);
    expect(await answers(4, () => askUdp(port))).toEqual(['u-one', 'u-one', 'u-two', 'u-two']);

    // An open connection to "one", then "one" leaves and "three" comes.
    let open = await connect(port);
    while ((await open.ask()) !== 'one') {
      open.close();
      open = await connect(port);
    }
    mesh.sync(ROUTE_ADDRESS, [route(port, 'tcp', [backend('b', `${NET}.2`, two), backend('c', `${NET}.3`, three)])]);
    await mesh.settled();
    expect(await answers(4, () => askOnce(port))).toEqual(['three', 'three', 'two', 'two']);
    expect(await open.ask()).toBe('one');
    // The UDP route went with the update: nothing answers there any more.
    await expect(askUdp(port)).rejects.toThrow();
  });

  it('refuses a route with no backends at once, and prefers the node\'s own backends with --lb-prefer-local', async () => {
    const [one, two] = [await tcpServer(`${NET}.1`, 'one'), await tcpServer(`${NET}.2`, 'two')];
    // Something listens on the empty route's port: the mesh's refusal must come first.
    const [empty, preferring] = [await tcpServer(ROUTE_ADDRESS, 'squatter'), await freePort(ROUTE_ADDRESS)];
    expect(await askOnce(empty)).toBe('squatter');
    const mesh = forwarder();
    mesh.sync(ROUTE_ADDRESS, [
      route(empty, 'tcp', []),
      route(preferring, 'tcp', [backend('a', `${NET}.1`, one), backend('b', `${NET}.2`, two, true)], true),
    ]);
    await mesh.settled();
    await expect(askOnce(empty)).rejects.toThrow(/ECONNREFUSED/);
    expect(await answers(4, () => askOnce(preferring))).toEqual(['two', 'two', 'two', 'two']);
    // With no local backend left, it is round robin over the others.
    mesh.sync(ROUTE_ADDRESS, [route(preferring, 'tcp', [backend('a', `${NET}.1`, one), backend('b', `${NET}.2`, two)], true)]);
    await mesh.settled();
    expect(await answers(4, () => askOnce(preferring))).toEqual(['one', 'one', 'two', 'two']);
  });

  it('accepts a port on every address of the node when told ANY_ADDRESS (--mesh-listen all)', async () => {
    const one = await tcpServer(`${NET}.1`, 'one');
    const port = await freePort(ROUTE_ADDRESS);
    const mesh = forwarder(ANY_ADDRESS);
    mesh.sync(ANY_ADDRESS, [route(port, 'tcp', [backend('a', `${NET}.1`, one)])]);
    await mesh.settled();
    const askAt = (address: string) => new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, address, () => socket.write('hello\n'));
      socket.setEncoding('utf8');
      socket.once('data', (chunk: string) => {
        resolve(chunk.trim());
        socket.destroy();
      });
      socket.once('error', reject);
    });
    expect([await askAt(ROUTE_ADDRESS), await askAt(`${NET}.10`), await askAt('127.0.0.1')]).toEqual(['one', 'one', 'one']);
  });

  it('replaces a table left by a crashed agent, moves with a new address, and close() removes its table', async () => {
    const one = await tcpServer(`${NET}.1`, 'one');
    const port = await freePort(ROUTE_ADDRESS);
    const table = meshTableName(ROUTE_ADDRESS);
    tablesMade.add(table);
    // What a killed agent leaves: its table, with a route to a backend long gone.
    await runNft(`table ip ${table} {\n chain output {\n type nat hook output priority -110; policy accept;\n ip daddr ${ROUTE_ADDRESS} tcp dport ${port} dnat ip to ${NET}.7 : 9\n }\n}\n`);
    const mesh = forwarder();
    mesh.sync(ROUTE_ADDRESS, [route(port, 'tcp', [backend('a', `${NET}.1`, one)])]);
    await mesh.settled();
    expect(await askOnce(port)).toBe('one');

    // A new address (a node re-addressed): the old table goes in the same transaction.
    const moved = `${NET}.10`;
    tablesMade.add(meshTableName(moved));
    mesh.sync(moved, [route(port, 'tcp', [backend('a', `${NET}.1`, one)])]);
    await mesh.settled();
    const listed = tables();
    expect(listed).toContain(`table ip ${meshTableName(moved)}`);
    expect(listed).not.toContain(`table ip ${table}`);

    await mesh.close();
    expect(tables()).not.toContain(`table ip ${meshTableName(moved)}`);
    // Closed: later syncs change nothing.
    mesh.sync(moved, [route(port, 'tcp', [backend('a', `${NET}.1`, one)])]);
    await mesh.settled();
    expect(tables()).not.toContain(`table ip ${meshTableName(moved)}`);
  });

  it('sends a connection from another host on to a backend on a third, through Docker\'s FORWARD drop policy, masqueraded so the reply comes back', async () => {
    // Three "hosts": this one (the mesh node) and two network namespaces made
    // here, each on a veth pair of its own; the client's namespace reaches only
    // this host, the backend's has no route back to the client: only
    // forwarding plus masquerading makes the connection work.
    const tag = process.pid % 100_000;
    const base = `198.19.${200 + (process.pid % 50)}`;
    const offset = (process.pid % 30) * 8;
    const [hostC, client, hostB, server] = [1, 2, 5, 6].map((n) => `${base}.${offset + n}`);
    const namespaces = [`pmesh-c-${tag}`, `pmesh-b-${tag}`];
    const ip = (...args: string[]): void => void execFileSync('ip', args, { stdio: 'ignore' });
    closers.push(() => {
      for (const ns of namespaces) {
        try {
          ip('netns', 'del', ns);
        } catch {
          // not made
        }
      }
    });
    for (const [ns, hostSide, hostAddress, nsAddress] of [[namespaces[0], `pmc${tag}`, hostC, client], [namespaces[1], `pmb${tag}`, hostB, server]]) {
      ip('netns', 'add', ns);
      ip('link', 'add', hostSide, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      ip('addr', 'add', `${hostAddress}/30`, 'dev', hostSide);
      ip('link', 'set', hostSide, 'up');
      ip('-n', ns, 'addr', 'add', `${nsAddress}/30`, 'dev', 'eth0');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
    }
    // The backend answers with the address the connection came from.
    const serverPort = 18080;
    const backendProcess = spawn('ip', ['netns', 'exec', namespaces[1], process.execPath, '-e',
      `require('net').createServer((s) => s.on('data', () => s.end('from ' + s.remoteAddress + '\\n'))).listen(${serverPort}, '${server}', () => console.log('ready'))`,
    ], { stdio: ['ignore', 'pipe', 'inherit'] });
    closers.push(() => backendProcess.kill());
    await new Promise<void>((resolve, reject) => {
      backendProcess.stdout!.once('data', () => resolve());
      backendProcess.once('exit', (code) => reject(new Error(`backend exited ${code}`)));
    });

    const port = 18081;
    tablesMade.add(meshTableName(hostC));
    const mesh = new NftForwarder(log);
    closers.push(() => mesh.close());
    mesh.sync(hostC, [route(port, 'tcp', [backend('a', server, serverPort)])]);
    await mesh.settled();
    expect(forwardAccepts()).toHaveLength(1);
    const answer = await new Promise<string>((resolve) => execFile('ip', ['netns', 'exec', namespaces[0], process.execPath, '-e',
      `const s = require('net').connect(${port}, '${hostC}', () => s.write('hi\\n')); let b = ''; s.on('data', (d) => (b += d)); s.on('end', () => console.log(b.trim())); s.on('error', (e) => console.log('error ' + e.code)); setTimeout(() => { console.log('timed out'); process.exit(0); }, 3000).unref();`,
    ], (_error, stdout) => resolve(String(stdout).trim())));
    expect(answer).toBe(`from ${hostB}`);

    await mesh.close();
    expect(forwardAccepts()).toEqual([]);
  });

  it('runs nft one script at a time and folds the syncs that arrive meanwhile into one run of the latest routes', async () => {
    const scripts: string[] = [];
    let running = 0;
    let overlapped = false;
    const releases: Array<() => void> = [];
    const fake = (script: string): Promise<void> => {
      scripts.push(script);
      overlapped ||= running > 0;
      running++;
      return new Promise((resolve) => releases.push(() => {
        running--;
        resolve();
      }));
    };
    // iptables as it behaves: -C and -D fail unless the rule is there.
    const iptables: string[][] = [];
    let ruleThere = false;
    const fakeIptables = async (args: string[]): Promise<void> => {
      iptables.push(args);
      if ((args[0] === '-C' || args[0] === '-D') && !ruleThere) throw new Error('no such rule');
      if (args[0] === '-I') ruleThere = true;
      if (args[0] === '-D') ruleThere = false;
    };
    const mesh = new NftForwarder(log, fake, fakeIptables);
    mesh.sync(ROUTE_ADDRESS, [route(1001, 'tcp', [backend('a', `${NET}.1`, 2001)])]);
    for (let port = 1002; port <= 1005; port++) mesh.sync(ROUTE_ADDRESS, [route(port, 'tcp', [backend('a', `${NET}.1`, 2001)])]);
    expect(scripts).toHaveLength(1);
    releases.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(scripts).toHaveLength(2);
    expect(scripts[1]).toContain('tcp dport 1005 ');
    expect(scripts[1]).not.toContain('tcp dport 1002 ');
    const closed = mesh.close();
    releases.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(scripts).toHaveLength(3);
    expect(scripts[2]).toBe(`table ip ${meshTableName(ROUTE_ADDRESS)} {}\ndelete table ip ${meshTableName(ROUTE_ADDRESS)}\n`);
    releases.shift()!();
    await closed;
    expect(overlapped).toBe(false);
    // The forward accept was added once (after the first table) and removed on close.
    expect(iptables.filter((args) => args[0] === '-I')).toHaveLength(1);
    expect(ruleThere).toBe(false);
  });
});
