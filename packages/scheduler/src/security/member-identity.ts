import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ADMIN_BUNDLE_VALIDITY_MS,
  certificateExpired,
  certificateLife,
  createClusterCa,
  issueIdentity,
  joinWithToken,
  readIdentity,
  replaceIdentity,
  writeAdminBundle,
  writeIdentity,
  writePrivateFile,
  type ClusterCa,
  type TlsIdentity,
} from '@pisched/api';

/** In a scheduler's data dir: its own credentials, and the admin bundle the CLI finds (see the CLI's tls-lookup). */
export const NODE_TLS_DIR = 'tls';
export const ADMIN_TLS_DIR = 'admin';
/** The name of the admin bundle a new cluster's first members write (not recorded in the store: it predates it). */
export const FIRST_ADMIN_NAME = 'admin';
const CA_KEY_FILE = 'ca.key';
const CA_CERT_FILE = 'ca.pem';

export function tlsDir(dataDir: string): string {
  return path.join(dataDir, NODE_TLS_DIR);
}

/** This member's credentials from an earlier start, if any. */
export function storedIdentity(dataDir: string): TlsIdentity | undefined {
  return readIdentity(tlsDir(dataDir), 'node');
}


/**
 * Credentials of a scheduler holding the CA key at its first start: its own
 * manager certificate, and an admin bundle for the CLI on this host.
 */
export async function writeFirstStartCredentials(dataDir: string, memberId: string, ca: ClusterCa): Promise<TlsIdentity> {
  writeAdminBundle(path.join(dataDir, ADMIN_TLS_DIR), 'admin', await issueIdentity(ca, FIRST_ADMIN_NAME, 'admin', ADMIN_BUNDLE_VALIDITY_MS));
  const identity = await issueIdentity(ca, memberId, 'manager');
  writeIdentity(tlsDir(dataDir), 'node', identity);
  return identity;
}

/** A new manager certificate for a member holding the CA key whose own expired while it was off. */
export async function reissueMemberCertificate(dataDir: string, memberId: string, ca: ClusterCa): Promise<TlsIdentity> {
  const identity = await issueIdentity(ca, memberId, 'manager');
  replaceIdentity(tlsDir(dataDir), 'node', identity);
  return identity;
}

/**
 * A member of a --peers cluster: all members share the root CA from
 * --ca-dir (made there by the first member started when it is empty; copy
 * it to the other members' hosts). The member keeps its own copy of the key
 * so that, whichever member leads first, the store gets that same root.
 */
export async function peersMemberCredentials(dataDir: string, memberId: string, caDir: string): Promise<{ identity: TlsIdentity; ca: ClusterCa }> {
  const kept = readCa(tlsDir(dataDir));
  const stored = storedIdentity(dataDir);
  if (stored && kept) {
    // This member holds the CA key: one that expired while it was off is simply issued again.
    const identity = certificateExpired(stored.certPem) ? await reissueMemberCertificate(dataDir, memberId, kept) : stored;
    return { identity, ca: kept };
  }
  const ca = await sharedCa(caDir);
  writePrivateFile(path.join(tlsDir(dataDir), CA_KEY_FILE), ca.keyPem);
  return { identity: await writeFirstStartCredentials(dataDir, memberId, ca), ca };
}

/** The root CA a --peers member kept at its first start. */
function readCa(dir: string): ClusterCa | undefined {
  const key = path.join(dir, CA_KEY_FILE);
  const cert = path.join(dir, CA_CERT_FILE);
  if (!fs.existsSync(key) || !fs.existsSync(cert)) return undefined;
  return { keyPem: fs.readFileSync(key, 'utf8'), certPem: fs.readFileSync(cert, 'utf8') };
}

/**
 * The CA in --ca-dir, created when the directory holds none. Members started
 * together on one host may race: the key is linked into place first, so
 * exactly one creates it and the others read it.
 */
async function sharedCa(caDir: string): Promise<ClusterCa> {
  const existing = readCa(caDir);
  if (existing) return existing;
  fs.mkdirSync(caDir, { recursive: true, mode: 0o700 });
  const ca = await createClusterCa();
  const keyTemp = path.join(caDir, `.${CA_KEY_FILE}.${process.pid}`);
  const certTemp = path.join(caDir, `.${CA_CERT_FILE}.${process.pid}`);
  fs.writeFileSync(keyTemp, ca.keyPem, { mode: 0o600 });
  fs.writeFileSync(certTemp, ca.certPem, { mode: 0o644 });
  try {
    fs.linkSync(keyTemp, path.join(caDir, CA_KEY_FILE));
    fs.linkSync(certTemp, path.join(caDir, CA_CERT_FILE));
    return ca;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot write the cluster CA to ${caDir}: ${(error as NodeJS.ErrnoException).code}`);
    const until = Date.now() + 10_000;
    for (;;) {
      const other = readCa(caDir);
      if (other) return other;
      if (Date.now() > until) throw new Error(`${caDir} holds a CA key without its certificate (ca.pem)`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    fs.rmSync(keyTemp, { force: true });
    fs.rmSync(certTemp, { force: true });
  }
}

/** A member added with --join: its manager certificate comes from the cluster, for the manager join token. */
export async function joiningMemberCredentials(dataDir: string, memberId: string, via: string, token: string | undefined): Promise<TlsIdentity> {
  const stored = storedIdentity(dataDir);
  // Off longer than its certificate's life: only a token lets it back in.
  const expired = stored !== undefined && certificateExpired(stored.certPem);
  if (stored && !expired) return stored;
  if (expired && !token) {
    const at = new Date(certificateLife(stored.certPem).expiresAt).toISOString();
    throw new Error(`this scheduler's certificate expired at ${at} (it was off longer than the certificate's life): start it with --join-token TOKEN to join again (print it on another member with: pisched join-token manager)`);
  }
  if (!token) throw new Error('--join needs --join-token (print it on a member with: pisched join-token manager)');
  const { identity, role } = await joinWithToken(via, token, memberId);
  if (role !== 'manager') throw new Error('the join token is a worker token; a scheduler joins with the manager token (pisched join-token manager)');
  writeIdentity(tlsDir(dataDir), 'node', identity);
  return identity;
}
