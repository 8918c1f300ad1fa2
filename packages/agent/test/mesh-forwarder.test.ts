import * as dgram from 'node:dgram';
import * as net from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { MeshUpdate } from '@pisched/api';
import { EndpointTable } from '../src/mesh/endpoint-table';
import { UserspaceForwarder } from '../src/mesh/userspace-forwarder';

const log = pino({ level: 'silent' });
const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

function listening(server: net.Server | dgram.Socket): Promise<number> {
  return new Promise((resolve) => {
    if (server instanceof net.Server) server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
    else server.bind(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

/** A TCP server answering every connection with its name once it has read a line. */
async function namedServer(name: string): Promise<number> {
  const server = net.createServer((socket) => socket.once('data', () => socket.end(`${name}\n`)));
  closers.push(() => server.close());
  return listening(server);
}

/** Accepts, then closes without a byte: what the engine's port proxy does when the container does not listen. */
async function emptyServer(): Promise<number> {
  const server = net.createServer((socket) => socket.destroy());
  closers.push(() => server.close());
  return listening(server);
}

async function freePort(type: 'tcp' | 'udp'): Promise<number> {
  const socket = type === 'tcp' ? net.createServer() : dgram.createSocket('udp4');
  const port = await listening(socket);
  await new Promise<void>((resolve) => (socket instanceof net.Server ? socket.close(() => resolve()) : socket.close(() => resolve())));
  return port;
}

function ask(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write('hello\n'));
    let body = '';
    socket.on('data', (chunk) => (body += chunk));
    socket.on('end', () => resolve(body.trim()));
    socket.on('error', reject);
  });
}

function update(published: number, protocol: 'tcp' | 'udp', backends: Array<{ id: string; port: number }>): MeshUpdate {
  return {
    full: true,
    removedServices: [],
    services: [{
      serviceId: 's1',
      serviceName: 'web',
      ports: [{ publishedPort: published, targetPort: 80, protocol, publishMode: 'ingress' }],
      backends: backends.map((backend) => ({
        taskId: backend.id,
        nodeId: 'n1',
        address: '127.0.0.1',
        ports: [{ publishedPort: backend.port, targetPort: 80, protocol, publishMode: 'ingress' }],
      })),
      networks: [],
      endpointMode: 'vip',
      vipPorts: [],
      preferLocal: false,
      aliases: [],
    }],
  };
}

async function waitListening(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`nothing listens on ${port}`);
}

function forward(table: EndpointTable, next: MeshUpdate, forwarder: UserspaceForwarder): void {
  table.apply(next);
  forwarder.sync('127.0.0.1', table.routes());
}

describe('the userspace forwarder', () => {
  it('spreads TCP connections round robin, and skips backends that refuse or close before answering', async () => {
    const [one, two, dead, empty, published] = [await namedServer('one'), await namedServer('two'), await freePort('tcp'), await emptyServer(), await freePort('tcp')];
    const table = new EndpointTable();
    const forwarder = new UserspaceForwarder(log);
    closers.push(() => forwarder.close());
    forward(table, update(published, 'tcp', [{ id: 'a', port: one }, { id: 'b', port: dead }, { id: 'c', port: two }, { id: 'd', port: empty }]), forwarder);
    await waitListening(published);
    const answers = [];
    for (let i = 0; i < 8; i++) answers.push(await ask(published));
    expect(answers.filter((a) => a === 'one').length).toBe(4);
    expect(answers.filter((a) => a === 'two').length).toBe(4);

    // An incremental update takes a backend out; a removed service closes the port.
    forward(table, { full: false, removedServices: [], services: update(published, 'tcp', [{ id: 'c', port: two }]).services }, forwarder);
    for (let i = 0; i < 3; i++) expect(await ask(published)).toBe('two');
    forward(table, { full: false, removedServices: ['s1'], services: [] }, forwarder);
    await expect(ask(published)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('answers a client that sends its request and half-closes at once, before the backend is connected', async () => {
    const [one, published] = [await namedServer('one'), await freePort('tcp')];
    const table = new EndpointTable();
    const forwarder = new UserspaceForwarder(log);
    closers.push(() => forwarder.close());
    forward(table, update(published, 'tcp', [{ id: 'a', port: one }]), forwarder);
    await waitListening(published);
    for (let i = 0; i < 3; i++) {
      const body = await new Promise<string>((resolve, reject) => {
        // What `printf 'GET …' | nc` does: the request and the end of its input in one go.
        const socket = net.connect(published, '127.0.0.1', () => socket.end('hello\n'));
        let text = '';
        socket.on('data', (chunk) => (text += chunk));
        socket.on('end', () => resolve(text.trim()));
        socket.on('error', reject);
      });
      expect(body).toBe('one');
    }
  });

  it('closes a connection when no backend answers', async () => {
    const [dead, published] = [await freePort('tcp'), await freePort('tcp')];
    const table = new EndpointTable();
    const forwarder = new UserspaceForwarder(log);
    closers.push(() => forwarder.close());
    forward(table, update(published, 'tcp', [{ id: 'a', port: dead }]), forwarder);
    await waitListening(published);
    expect(await ask(published).catch(() => 'closed')).toMatch(/^(|closed)$/);
  });

  it('carries UDP flows both ways, each client to one backend, round robin over flows', async () => {
    const servers = await Promise.all(['u1', 'u2'].map(async (name) => {
      const socket = dgram.createSocket('udp4');
      socket.on('message', (message, from) => socket.send(`${name}:${message}`, from.port, from.address));
      closers.push(() => socket.close());
      return listening(socket);
    }));
    const published = await freePort('udp');
    const table = new EndpointTable();
    const forwarder = new UserspaceForwarder(log);
    closers.push(() => forwarder.close());
    forward(table, update(published, 'udp', [{ id: 'a', port: servers[0] }, { id: 'b', port: servers[1] }]), forwarder);
    await new Promise((resolve) => setTimeout(resolve, 50));

    const exchange = async (client: dgram.Socket, text: string): Promise<string> => {
      const reply = new Promise<string>((resolve) => client.once('message', (message) => resolve(String(message))));
      client.send(text, published, '127.0.0.1');
      return reply;
    };
    const clients = [dgram.createSocket('udp4'), dgram.createSocket('udp4')];
    for (const client of clients) closers.push(() => client.close());
    const first = await exchange(clients[0], 'x');
    const again = await exchange(clients[0], 'y');
    const other = await exchange(clients[1], 'z');
    expect(first.split(':')[0]).toBe(again.split(':')[0]);
    expect(again.endsWith(':y')).toBe(true);
    expect(new Set([first.split(':')[0], other.split(':')[0]])).toEqual(new Set(['u1', 'u2']));
  });
});
