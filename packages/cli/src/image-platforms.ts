import { imagePlatform, type Platform } from '@pisched/api';
import type { DockerOptions } from 'dockerode';

/** How long the CLI waits for the local engine before treating the image as unknown. */
export const RESOLVE_TIMEOUT_MS = 2_000;

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
      // Loaded only here: most commands never talk to Docker and should not pay for loading it.
      const { default: Docker } = await import('dockerode');
      const docker = new Docker({ timeout: timeoutMs, ...options.docker });
      const inspected = await docker.getImage(image).inspect();
      return [imagePlatform(inspected)];
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
