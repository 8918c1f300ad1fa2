import { spawn } from 'node:child_process';

export const SWARM_LOCK = '/tmp/pisched-swarm.lock';

/**
 * Holds `flock SWARM_LOCK` (the lock every benchmark that puts the shared
 * engine into swarm mode takes) until the returned release is called. The
 * lock lives in a child `flock … cat`, which ends, and so frees the lock, when
 * its stdin closes: also when this process dies without releasing it.
 */
export async function holdSwarmLock(waitSeconds = 600): Promise<() => void> {
  const child = spawn('flock', ['-w', String(waitSeconds), SWARM_LOCK, 'sh', '-c', 'echo locked; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    child.stdout!.once('data', () => resolve());
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`flock ${SWARM_LOCK} exited ${code}: ${stderr.trim() || 'timed out'}`)));
  });
  return () => child.stdin!.end();
}
