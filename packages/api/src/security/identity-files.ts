import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TlsIdentity } from './grpc-credentials';
import { writePrivateFile } from './private-files';

/**
 * Where a node keeps its credentials: `ca.pem` (the cluster root), and its
 * certificate and key under a name (`node` for a daemon, `admin` for the
 * CLI's bundle). The key is 0600; the others are public.
 */
export function identityFiles(dir: string, name: string): { ca: string; cert: string; key: string } {
  return { ca: path.join(dir, 'ca.pem'), cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`) };
}

/** The identity stored in dir, or undefined when there is none yet (a node that has not joined). */
export function readIdentity(dir: string, name: string): TlsIdentity | undefined {
  finishReplacement(dir, name);
  const files = identityFiles(dir, name);
  if (!fs.existsSync(files.cert)) return undefined;
  try {
    return { caPem: fs.readFileSync(files.ca, 'utf8'), certPem: fs.readFileSync(files.cert, 'utf8'), keyPem: fs.readFileSync(files.key, 'utf8') };
  } catch (error) {
    throw new Error(`cannot read the credentials in ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** Key first, certificate last: a crash in between leaves no certificate, so the next start joins again. */
export function writeIdentity(dir: string, name: string, identity: TlsIdentity): void {
  const files = identityFiles(dir, name);
  writePrivateFile(files.key, identity.keyPem);
  writePrivateFile(files.ca, identity.caPem);
  writePrivateFile(files.cert, identity.certPem);
}

/** Where a renewed certificate and key are written in full before either replaces the current one. */
function nextFiles(dir: string, name: string): { cert: string; key: string } {
  const next = identityFiles(dir, `${name}.next`);
  return { cert: next.cert, key: next.key };
}

/**
 * Replaces a stored certificate and key (a renewal) so that a crash at any
 * point leaves a matching pair: both are written in full under other names
 * first, then moved into place; a crash between the two moves is finished
 * by the next read (rolling forward is safe: both new files were complete).
 */
export function replaceIdentity(dir: string, name: string, identity: TlsIdentity): void {
  const next = nextFiles(dir, name);
  writePrivateFile(next.key, identity.keyPem);
  writePrivateFile(next.cert, identity.certPem);
  finishReplacement(dir, name);
}

function finishReplacement(dir: string, name: string): void {
  const next = nextFiles(dir, name);
  // The certificate is moved last: while it waits, the key has always been moved already, or is about to be.
  if (!fs.existsSync(next.cert)) return;
  const files = identityFiles(dir, name);
  if (fs.existsSync(next.key)) fs.renameSync(next.key, files.key);
  fs.renameSync(next.cert, files.cert);
}

/**
 * An admin bundle also in the layout the docker CLI reads from
 * DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem), so the same directory
 * drives both CLIs; the key is 0600 like the bundle's own.
 */
export function writeAdminBundle(dir: string, name: string, identity: TlsIdentity): void {
  writeIdentity(dir, name, identity);
  writePrivateFile(path.join(dir, 'key.pem'), identity.keyPem);
  writePrivateFile(path.join(dir, 'cert.pem'), identity.certPem);
}
