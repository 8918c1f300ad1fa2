import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { callerIdentity, loadGrpc, type ControlClient, type ControlHandlers } from '@pisched/api';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ControlSocket } from '../src/control/control-socket';
import { authorizeControl } from '../src/security/authorize-control';
import { identityOf } from './tls-support';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-csock-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

/** ListServices answers with who the authorization check saw calling; the rest are not called here. */
const handlers = {
  ListServices: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) =>
    callback(null, { services: [{ service: { id: 'x', spec: { name: `${callerIdentity(call)?.role}:${callerIdentity(call)?.nodeId}` } }, desired: 1, running: 1 }] }),
} as unknown as ControlHandlers;

let socket: ControlSocket | undefined;
let client: ControlClient | undefined;
afterEach(async () => {
  client?.close();
  socket?.stop();
  socket = client = undefined;
});

async function start(revoked: string[] = []): Promise<ControlSocket> {
  const admin = await identityOf('admin', 'admin');
  socket = new ControlSocket({
    dataDir,
    host: '127.0.0.1',
    port: 47_000,
    adminCertPem: admin.certPem,
    control: authorizeControl(handlers, (caller) => (revoked.includes(caller.nodeId) ? `the certificate of ${caller.nodeId} was revoked` : undefined)),
  });
  await socket.start();
  return socket;
}

function listServices(at: string): Promise<string[]> {
  client = new (loadGrpc().Control)(`unix:${at}`, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) =>
    client!.ListServices({}, (error, response) => (error ? reject(error) : resolve(response!.services.map((s) => s.service?.spec?.name ?? '')))),
  );
}

describe('the Control API on a local socket', () => {
  it('is a 0600 socket named after the listen address in a 0700 directory of the data dir, even one made wider before', async () => {
    fs.mkdirSync(path.join(dataDir, 'control'), { recursive: true, mode: 0o755 });
    fs.chmodSync(path.join(dataDir, 'control'), 0o755);
    const { path: at } = await start();
    expect(at).toBe(path.join(dataDir, 'control', '127.0.0.1:47000.sock'));
    expect(fs.lstatSync(at).isSocket()).toBe(true);
    expect(fs.statSync(at).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(at)).mode & 0o777).toBe(0o700);
  });

  it('serves calls as the admin bundle\'s holder, through the same authorization as TLS', async () => {
    const { path: at } = await start();
    expect(await listServices(at)).toEqual(['admin:admin']);
  });

  it('refuses every call once that admin certificate is revoked', async () => {
    const { path: at } = await start(['admin']);
    await expect(listServices(at)).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: 'the certificate of admin was revoked' });
  });

  it('replaces a socket an earlier run left, and removes its own at stop', async () => {
    const first = (await start()).path;
    socket!.stop();
    socket = undefined;
    expect(fs.existsSync(first)).toBe(false);
    const stale = path.join(dataDir, 'control', '127.0.0.1:46999.sock');
    // A crashed run leaves its socket file behind: a process killed while listening.
    spawnSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(fs.existsSync(stale)).toBe(true);
    const { path: at } = await start();
    expect(fs.existsSync(stale)).toBe(false);
    expect(await listServices(at)).toEqual(['admin:admin']);
  });

  it.skipIf(process.getuid?.() !== 0)('cannot be opened by a user other than its owner', async () => {
    const { path: at } = await start();
    // The data dir itself is 0700 in a scheduler; here only the socket's own directory and mode keep the other user out.
    fs.chmodSync(dataDir, 0o755);
    const connect = `require('node:net').connect(${JSON.stringify(at)}).on('connect', () => { console.log('connected'); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(0); });`;
    const asNobody = spawnSync(process.execPath, ['-e', connect], { uid: 65534, gid: 65534, encoding: 'utf8' });
    expect(asNobody.stdout.trim()).toBe('EACCES');
    // The owner (root here) can: the refusal above is the file modes', not a broken socket.
    const asOwner = spawnSync(process.execPath, ['-e', connect], { encoding: 'utf8' });
    expect(asOwner.stdout.trim()).toBe('connected');
  });
});
