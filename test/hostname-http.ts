import * as http from 'node:http';
import { runningContainersOfService } from './harness';

/**
 * The test image as a web server that answers with its container's hostname (the container id's first 12 characters), so a reply says which replica served it.
 * It exits on SIGTERM, as a real server does: httpd as PID 1 ignored it, so every stop waited out the 10 s grace
 * while the old replica went on serving, which also hid whether the mesh had moved traffic off it first.
 */
export const HOSTNAME_HTTP_SERVER = ['sh', '-c', 'mkdir -p /www && hostname > /www/index.html || exit 1; trap "exit 0" TERM; httpd -f -p 80 -h /www & wait'];

/** One request on a new connection: the body, or an Error saying why not (never a rejection, so a request loop can count failures). */
export function getBody(address: string, port: number, timeoutMs = 2_000): Promise<string | Error> {
  return new Promise((resolve) => {
    const request = http.get({ host: address, port, path: '/', agent: false, timeout: timeoutMs }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(response.statusCode === 200 ? body.trim() : new Error(`HTTP ${response.statusCode}`)));
      response.on('error', (error) => resolve(error));
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', (error) => resolve(error));
  });
}

/** What the running containers of a service on these nodes answer with: their hostnames (short container ids), sorted. */
export async function containerHostnames(nodeIds: string[], service: string): Promise<string[]> {
  return (await runningContainersOfService(nodeIds, service)).map((c) => c.Id.slice(0, 12)).sort();
}
