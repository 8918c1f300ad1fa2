import { spawn } from 'node:child_process';

export const NFT_BINARY = '/usr/sbin/nft';

/** Runs one nft script (`nft -f -`) as a single transaction; rejects with nft's own first error line. */
export function runNft(script: string, binary = NFT_BINARY): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    child.once('error', (error) => reject(new Error(`cannot run ${binary}: ${error.message}`)));
    child.once('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`nft failed (exit ${code}): ${stderr.trim().split('\n')[0] ?? ''}`));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(script);
  });
}
