import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { localImagePlatforms } from '../src/image-platforms';

const dockerode = vi.hoisted(() => ({ loaded: false }));
vi.mock('dockerode', async () => {
  dockerode.loaded = true;
  return vi.importActual('dockerode');
});

describe('reading an image\'s platform from an engine on a unix socket', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  /** An engine on a socket of its own that knows one image, and the paths it was asked. */
  async function engineSocket(images: Record<string, object>): Promise<{ socketPath: string; asked: string[] }> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-cli-engine-'));
    const socketPath = path.join(dir, 'docker.sock');
    const asked: string[] = [];
    const server = http.createServer((request, response) => {
      asked.push(`${request.method} ${request.url}`);
      const image = images[/^\/images\/(.+)\/json$/.exec(request.url ?? '')?.[1] ?? ''];
      response.writeHead(image ? 200 : 404, { 'content-type': 'application/json' });
      response.end(JSON.stringify(image ?? { message: 'No such image' }));
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    cleanups.push(() => {
      server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    return { socketPath, asked };
  }

  it('asks with one GET of Node\'s own http, without loading dockerode, at the socket DOCKER_HOST names', async () => {
    const engine = await engineSocket({ 'pi/app:1': { Id: 'sha256:1', Os: 'linux', Architecture: 'arm64' } });
    const before = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = `unix://${engine.socketPath}`;
    cleanups.push(() => (before === undefined ? delete process.env.DOCKER_HOST : (process.env.DOCKER_HOST = before)));
    expect(await localImagePlatforms('pi/app:1')).toEqual([{ os: 'linux', architecture: 'arm64' }]);
    expect(await localImagePlatforms('missing:1')).toEqual([]);
    expect(await localImagePlatforms('pi/app:1', { docker: { socketPath: engine.socketPath } })).toEqual([{ os: 'linux', architecture: 'arm64' }]);
    expect(engine.asked).toEqual(['GET /images/pi/app:1/json', 'GET /images/missing:1/json', 'GET /images/pi/app:1/json']);
    // Loading dockerode (and ssh2 under it) was 0.2 s of every `pisched run` before its first request.
    expect(dockerode.loaded).toBe(false);
  });
});
