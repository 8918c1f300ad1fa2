import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { imagePlatform, type Platform } from '@pisched/api';
import type { DockerOptions } from 'dockerode';

/** How long the CLI waits for the local engine before treating the image as unknown. */
export const RESOLVE_TIMEOUT_MS = 2_000;

/** What image inspect answers that the platform is read from. */
type InspectedImage = Parameters<typeof imagePlatform>[0];

/**
 * Where a plain HTTP request reaches the engine, or undefined when only
 * dockerode knows how (TLS, ssh://, a named pipe). Read as docker-modem reads
 * DOCKER_HOST: unset means the user's Docker Desktop socket if there is one,
 * else /var/run/docker.sock.
 */
function plainEngine(docker: DockerOptions | undefined): { socketPath: string } | { host: string; port: number } | undefined {
  if (docker) {
    if (docker.socketPath) return { socketPath: docker.socketPath };
    if (docker.protocol === 'http' && docker.host) return { host: docker.host, port: Number(docker.port ?? 80) };
    return undefined;
  }
  const host = process.env.DOCKER_HOST ?? '';
  if (host !== '' && !host.startsWith('unix://')) return undefined;
  if (host.length > 'unix://'.length) return { socketPath: host.slice('unix://'.length) };
  const desktop = path.join(os.homedir(), '.docker', 'run', 'docker.sock');
  return { socketPath: fs.existsSync(desktop) ? desktop : '/var/run/docker.sock' };
}

/**
 * Image inspect as one GET with Node's own http: loading dockerode (and
 * ssh2 under it) took 0.2 s of `pisched run` before it could ask anything.
 */
async function inspectOverHttp(engine: { socketPath: string } | { host: string; port: number }, image: string, timeoutMs: number): Promise<InspectedImage | undefined> {
  const http = await import('node:http');
  return new Promise((resolve, reject) => {
    const request = http.get({ ...engine, path: `/images/${image}/json`, timeout: timeoutMs }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        if (response.statusCode !== 200) return resolve(undefined);
        try {
          resolve(JSON.parse(body) as InspectedImage);
        } catch (error) {
          reject(error);
        }
      });
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error('engine timeout')));
    request.on('error', reject);
  });
}

async function inspectWithDockerode(docker: DockerOptions | undefined, image: string, timeoutMs: number): Promise<InspectedImage> {
  // Loaded only here: most commands never talk to Docker and should not pay for loading it.
  const { default: Docker } = await import('dockerode');
  return new Docker({ timeout: timeoutMs, ...docker }).getImage(image).inspect();
}

/**
 * The platform of `image` as the local Docker engine has it (image inspect's
 * Os, Architecture and Variant), or none when it cannot tell: no engine
 * reachable, the image not pulled here, or an answer it cannot read. None
 * means "not known locally" and lets the scheduler use any node, so nothing
 * here is an error. The engine is the one DOCKER_HOST names, else the
 * default socket, as the docker CLI would use.
 */
export async function localImagePlatforms(image: string, options: { timeoutMs?: number; docker?: DockerOptions } = {}): Promise<Platform[]> {
  const timeoutMs = options.timeoutMs ?? RESOLVE_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const giveUp = new Promise<Platform[]>((resolve) => {
    timer = setTimeout(() => resolve([]), timeoutMs);
  });
  const ask = async (): Promise<Platform[]> => {
    try {
      const engine = plainEngine(options.docker);
      const inspected = engine ? await inspectOverHttp(engine, image, timeoutMs) : await inspectWithDockerode(options.docker, image, timeoutMs);
      return inspected ? [imagePlatform(inspected)] : [];
    } catch {
      return [];
    }
  };
  try {
    return await Promise.race([ask(), giveUp]);
  } finally {
    clearTimeout(timer);
  }
}
