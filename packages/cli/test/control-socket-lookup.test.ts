import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localControlSocket } from '../src/control-socket-lookup';

/** A scheduler's data dir as the CLI sees it: admin/ (the credentials) beside control/ (the sockets). */
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-csl-'));
const admin = path.join(dataDir, 'admin');
const control = path.join(dataDir, 'control');
const servers: net.Server[] = [];

async function listen(name: string): Promise<string> {
  const at = path.join(control, name);
  const server = net.createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(at, resolve));
  return at;
}

beforeAll(async () => {
  fs.mkdirSync(admin, { recursive: true });
  fs.mkdirSync(control, { mode: 0o700 });
});
afterAll(() => {
  for (const server of servers) server.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('the local control socket the CLI dials instead of TLS', () => {
  it('is the one named after the address asked, or a loopback address of a scheduler listening there or on every address', async () => {
    const exact = await listen('127.0.0.1:7701.sock');
    const any = await listen('0.0.0.0:7702.sock');
    const named = await listen('pi-1.lan:7703.sock');
    expect(localControlSocket(admin, '127.0.0.1:7701')).toBe(exact);
    expect(localControlSocket(admin, 'localhost:7701')).toBe(exact);
    expect(localControlSocket(admin, '127.0.0.1:7702')).toBe(any);
    expect(localControlSocket(admin, 'pi-1.lan:7703')).toBe(named);
  });

  it('is none for another port, or a host name the CLI cannot tell is this machine', () => {
    expect(localControlSocket(admin, '127.0.0.1:7799')).toBeUndefined();
    // Another member on another machine, listening on the same port.
    expect(localControlSocket(admin, 'pi-2.lan:7702')).toBeUndefined();
    expect(localControlSocket(admin, 'pi-2.lan:7703')).toBeUndefined();
  });

  it('is none for credentials that are not beside a control/ directory (a copied bundle)', () => {
    const copied = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-csl-copy-'));
    expect(localControlSocket(copied, '127.0.0.1:7701')).toBeUndefined();
    fs.rmSync(copied, { recursive: true });
  });

  it('is none for a file of that name that is not a socket', () => {
    fs.writeFileSync(path.join(control, '127.0.0.1:7704.sock'), '');
    expect(localControlSocket(admin, '127.0.0.1:7704')).toBeUndefined();
  });

  it('is none in a directory others may use, where another user could have put it', () => {
    fs.chmodSync(control, 0o750);
    expect(localControlSocket(admin, '127.0.0.1:7701')).toBeUndefined();
    fs.chmodSync(control, 0o700);
    expect(localControlSocket(admin, '127.0.0.1:7701')).toBe(path.join(control, '127.0.0.1:7701.sock'));
  });

  it.skipIf(process.getuid?.() !== 0)('is none when that directory, or the socket, belongs to a user who is neither this one nor root', () => {
    const socket = path.join(control, '127.0.0.1:7701.sock');
    fs.lchownSync(socket, 65534, 65534);
    expect(localControlSocket(admin, '127.0.0.1:7701')).toBeUndefined();
    fs.lchownSync(socket, 0, 0);
    fs.chownSync(control, 65534, 65534);
    expect(localControlSocket(admin, '127.0.0.1:7701')).toBeUndefined();
    fs.chownSync(control, 0, 0);
    expect(localControlSocket(admin, '127.0.0.1:7701')).toBe(socket);
  });
});
