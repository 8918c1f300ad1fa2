import * as fs from 'node:fs';
import * as path from 'node:path';
import { CONTROL_SOCKET_DIR, parseControlSocketName, parseHostPort } from '@pisched/api';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const ANY = new Set(['0.0.0.0', '[::]']);

/**
 * The unix socket on which the scheduler at `address` serves the Control API
 * without TLS, when the CLI's credentials are that scheduler's own admin
 * bundle (its data dir's admin/, beside the socket's control/): whoever may
 * read that key may use the socket. Undefined when there is none, or none for
 * that address (another member, another host): the CLI then dials over TLS.
 * Trusted only in a directory that its owner (this user, or root) alone may
 * use, so that no other user can have put a socket there to hear the calls.
 */
export function localControlSocket(credentialsDir: string, address: string): string | undefined {
  const dir = path.join(path.dirname(path.resolve(credentialsDir)), CONTROL_SOCKET_DIR);
  let names: string[];
  try {
    const stat = fs.statSync(dir);
    if (!stat.isDirectory() || (stat.mode & 0o077) !== 0 || !trustedOwner(stat.uid)) return undefined;
    names = fs.readdirSync(dir);
  } catch {
    return undefined;
  }
  const wanted = parseHostPort(address);
  for (const name of names) {
    const listen = parseControlSocketName(name);
    if (!listen || listen.port !== wanted.port || !sameHost(listen.host, wanted.host)) continue;
    const socket = path.join(dir, name);
    try {
      const stat = fs.lstatSync(socket);
      if (stat.isSocket() && trustedOwner(stat.uid)) return socket;
    } catch {
      // Gone since the directory was read: the scheduler stopped.
    }
  }
  return undefined;
}

function trustedOwner(uid: number): boolean {
  return uid === 0 || uid === process.getuid?.();
}

/** Whether dialling `host` reaches a scheduler listening on `listenHost` of this machine. */
function sameHost(listenHost: string, host: string): boolean {
  if (listenHost === host) return true;
  return LOOPBACK.has(host) && (LOOPBACK.has(listenHost) || ANY.has(listenHost));
}
