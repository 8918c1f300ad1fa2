import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callerIdentity, clientTlsOptions, createClusterCa, issueIdentity, serverCredentials, type TlsIdentity } from '@pisched/api';
import { frameMessage, statusOf, timeoutHeader, unframeMessage } from '../src/grpc-wire';
import { UnaryChannel } from '../src/unary-channel';
import { freePort } from './helpers';

describe('gRPC framing', () => {
  it('prefixes a message with an uncompressed flag and its length, and reads it back however it was split', () => {
    const message = Buffer.from('hello, pisched');
    const framed = frameMessage(message);
    expect([...framed.subarray(0, 5)]).toEqual([0, 0, 0, 0, message.length]);
    expect(unframeMessage([framed]).toString()).toBe('hello, pisched');
    // As HTTP/2 may deliver it: the prefix itself split, then the rest in pieces.
    expect(unframeMessage([framed.subarray(0, 2), framed.subarray(2, 7), framed.subarray(7)]).toString()).toBe('hello, pisched');
    expect(unframeMessage([frameMessage(Buffer.alloc(0))])).toHaveLength(0);
  });

  it('refuses no message, a truncated one, a compressed one and a second one', () => {
    const framed = frameMessage(Buffer.from('abc'));
    expect(() => unframeMessage([])).toThrow(expect.objectContaining({ code: grpc.status.INTERNAL, details: 'No message received' }));
    expect(() => unframeMessage([framed.subarray(0, 6)])).toThrow(expect.objectContaining({ code: grpc.status.INTERNAL }));
    const compressed = Buffer.from(framed);
    compressed[0] = 1;
    expect(() => unframeMessage([compressed])).toThrow(expect.objectContaining({ code: grpc.status.INTERNAL }));
    expect(() => unframeMessage([framed, framed])).toThrow(expect.objectContaining({ code: grpc.status.UNIMPLEMENTED }));
  });

  it('writes grpc-timeout in at most eight digits', () => {
    expect(timeoutHeader(10_000)).toBe('10000m');
    expect(timeoutHeader(0.4)).toBe('1m');
    expect(timeoutHeader(1e9)).toBe('1000000S');
  });

  it('reads a status from trailers or trailers-only headers, its message percent-decoded', () => {
    expect(statusOf({ 'grpc-status': '5', 'grpc-message': 'service%20%C2%ABweb%C2%BB%20not%20found' })).toEqual({ code: 5, details: 'service «web» not found' });
    expect(statusOf({ 'grpc-status': '0' })).toEqual({ code: 0, details: '' });
    expect(statusOf({ ':status': 200 } as never)).toBeUndefined();
  });
});

describe('UnaryChannel against grpc-js servers', () => {
  let ca: Awaited<ReturnType<typeof createClusterCa>>;
  let admin: TlsIdentity;
  let manager: TlsIdentity;
  const servers: grpc.Server[] = [];
  const dirs: string[] = [];
  let echo: string;

  // Messages as raw bytes: the channel under test frames bytes, whatever they encode.
  const same = (b: Buffer) => b;
  const method = (name: string): grpc.MethodDefinition<Buffer, Buffer> =>
    ({ path: `/test.Echo/${name}`, requestStream: false, responseStream: false, requestSerialize: same, requestDeserialize: same, responseSerialize: same, responseDeserialize: same });
  const handlers: grpc.UntypedServiceImplementation = {
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, call.request),
    // An answer far larger than one HTTP/2 frame (16 KiB) or window (64 KiB).
    Big: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, Buffer.alloc(Number(call.request.toString()), 7)),
    // A trailers-only answer: an error, no message; details with what needs percent-encoding.
    Refuse: (_call: unknown, callback: grpc.sendUnaryData<Buffer>) => callback({ code: grpc.status.NOT_FOUND, details: 'service «web» not found: 100% gone' }),
    Never: () => {},
    // What the server learnt of the caller: its deadline (from grpc-timeout) and its certificate's role.
    WhoAndWhen: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      // grpc-js gives the deadline as a Date or ms since the epoch; Infinity when the caller sent none.
      const deadline = call.getDeadline();
      const left = (deadline instanceof Date ? deadline.getTime() : Number(deadline)) - Date.now();
      callback(null, Buffer.from(JSON.stringify({ left, role: callerIdentity(call)?.role ?? null })));
    },
  };
  const service = Object.fromEntries(Object.keys(handlers).map((name) => [name, method(name)]));

  async function serve(credentials: grpc.ServerCredentials, address = '127.0.0.1:0'): Promise<string> {
    const server = new grpc.Server();
    server.addService(service, handlers);
    servers.push(server);
    const port = await new Promise<number>((resolve, reject) => server.bindAsync(address, credentials, (error, bound) => (error ? reject(error) : resolve(bound))));
    return address.startsWith('unix:') ? address : `127.0.0.1:${port}`;
  }

  beforeAll(async () => {
    ca = await createClusterCa();
    admin = await issueIdentity(ca, 'admin', 'admin');
    manager = await issueIdentity(ca, 's1', 'manager');
    echo = await serve(serverCredentials(manager, { requireClientCert: true }));
  });

  afterAll(() => {
    for (const server of servers) server.forceShutdown();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  const overTls = (address: string, identity = admin) => new UnaryChannel({ address, tls: clientTlsOptions(identity) });

  it('calls over mutual TLS with the admin certificate, and sends the deadline as grpc-timeout', async () => {
    const channel = overTls(echo);
    try {
      expect((await channel.call('/test.Echo/Echo', Buffer.from('ping'), 10_000)).toString()).toBe('ping');
      const seen = JSON.parse((await channel.call('/test.Echo/WhoAndWhen', Buffer.alloc(0), 10_000)).toString());
      expect(seen.role).toBe('admin');
      expect(seen.left).toBeGreaterThan(5_000);
      expect(seen.left).toBeLessThanOrEqual(10_000);
    } finally {
      channel.close();
    }
  });

  it('sends and receives messages split over many frames', async () => {
    const channel = overTls(echo);
    try {
      const large = Buffer.alloc(300_000, 3);
      expect((await channel.call('/test.Echo/Echo', large, 10_000)).equals(large)).toBe(true);
      const answer = await channel.call('/test.Echo/Big', Buffer.from(String(5 * 1024 * 1024)), 10_000);
      expect(answer.length).toBe(5 * 1024 * 1024);
      expect(answer.every((byte) => byte === 7)).toBe(true);
    } finally {
      channel.close();
    }
  });

  it('gives a trailers-only error its code and details, and an unknown method UNIMPLEMENTED', async () => {
    const channel = overTls(echo);
    try {
      await expect(channel.call('/test.Echo/Refuse', Buffer.alloc(0), 10_000)).rejects.toMatchObject({ code: grpc.status.NOT_FOUND, details: 'service «web» not found: 100% gone' });
      await expect(channel.call('/test.Echo/Nope', Buffer.alloc(0), 10_000)).rejects.toMatchObject({ code: grpc.status.UNIMPLEMENTED });
      // The session is still good after errors.
      expect((await channel.call('/test.Echo/Echo', Buffer.from('again'), 10_000)).toString()).toBe('again');
    } finally {
      channel.close();
    }
  });

  it('ends a call at its deadline with DEADLINE_EXCEEDED', async () => {
    const channel = overTls(echo);
    try {
      const started = performance.now();
      await expect(channel.call('/test.Echo/Never', Buffer.alloc(0), 300)).rejects.toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
      expect(performance.now() - started).toBeLessThan(5_000);
    } finally {
      channel.close();
    }
  });

  it('refuses a server of another cluster, and one of this cluster that is not a scheduler', async () => {
    const stranger = await serve(serverCredentials(await issueIdentity(await createClusterCa(), 's1', 'manager'), { requireClientCert: false }));
    const worker = await serve(serverCredentials(await issueIdentity(ca, 'w1', 'worker'), { requireClientCert: false }));
    for (const [address, why] of [
      [stranger, /certificate/],
      [worker, /not a scheduler \(manager\) certificate/],
    ] as const) {
      const channel = overTls(address);
      try {
        const error = await channel.call('/test.Echo/Echo', Buffer.from('secret'), 10_000).catch((e: unknown) => e);
        expect(error).toMatchObject({ code: grpc.status.UNAVAILABLE });
        expect((error as { details: string }).details).toMatch(why);
      } finally {
        channel.close();
      }
    }
  });

  it('is refused by a server that does not trust its certificate', async () => {
    const channel = overTls(echo, await issueIdentity(await createClusterCa(), 'admin', 'admin'));
    try {
      await expect(channel.call('/test.Echo/Echo', Buffer.from('x'), 10_000)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    } finally {
      channel.close();
    }
  });

  it('reports a refused connection as UNAVAILABLE naming ECONNREFUSED', async () => {
    const channel = overTls(`127.0.0.1:${await freePort()}`);
    try {
      const error = await channel.call('/test.Echo/Echo', Buffer.alloc(0), 10_000).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: grpc.status.UNAVAILABLE });
      expect((error as { details: string }).details).toMatch(/ECONNREFUSED/);
    } finally {
      channel.close();
    }
  });

  it('dials again after the server went away', async () => {
    const port = await freePort();
    const first = new grpc.Server();
    first.addService(service, handlers);
    await new Promise<void>((resolve, reject) => first.bindAsync(`127.0.0.1:${port}`, serverCredentials(manager, { requireClientCert: true }), (error) => (error ? reject(error) : resolve())));
    const channel = overTls(`127.0.0.1:${port}`);
    try {
      expect((await channel.call('/test.Echo/Echo', Buffer.from('one'), 10_000)).toString()).toBe('one');
      first.forceShutdown();
      await new Promise((resolve) => setTimeout(resolve, 100));
      const again = await serve(serverCredentials(manager, { requireClientCert: true }), `127.0.0.1:${port}`);
      expect(again).toBe(`127.0.0.1:${port}`);
      expect((await channel.call('/test.Echo/Echo', Buffer.from('two'), 10_000)).toString()).toBe('two');
    } finally {
      channel.close();
    }
  });

  it('calls a local scheduler\'s unix socket without TLS', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'unary-socket-'));
    dirs.push(dir);
    const socket = path.join(dir, 'control.sock');
    await serve(grpc.ServerCredentials.createInsecure(), `unix:${socket}`);
    const channel = new UnaryChannel({ socket });
    try {
      expect((await channel.call('/test.Echo/Echo', Buffer.from('local'), 10_000)).toString()).toBe('local');
    } finally {
      channel.close();
    }
  });
});
