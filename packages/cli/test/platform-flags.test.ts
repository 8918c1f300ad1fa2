import * as http from 'node:http';
import * as net from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { Platform } from '@pisched/api';
import { buildRunSpec, type RunOptions } from '../src/commands/run';
import { buildUpdatedSpec, type UpdateOptions } from '../src/commands/update';
import { platformsForRun, platformsForUpdate, type ImageResolver } from '../src/platform-flags';
import { localImagePlatforms } from '../src/image-platforms';
import { buildProgram } from '../src/program';
import { Context } from '../src/context';
import { CliError } from '../src/errors';

const amd64: Platform = { os: 'linux', architecture: 'amd64' };
const arm64: Platform = { os: 'linux', architecture: 'arm64' };

/** A resolver that records what it was asked and answers `answer`. */
function resolver(answer: Platform[] = [amd64]): ImageResolver & { asked: string[] } {
  const asked: string[] = [];
  return Object.assign(async (image: string) => {
    asked.push(image);
    return answer;
  }, { asked });
}

describe('run: image platforms', () => {
  it('takes --platform as given, canonical and without duplicates, over what the engine says', () => {
    const spec = buildRunSpec('busybox', [], { name: 'web', platform: ['linux/aarch64', 'linux/arm64', 'arm/v7'] }, [amd64]);
    expect(spec.placement!.platforms).toEqual([arm64, { os: 'linux', architecture: 'arm/v7' }]);
    expect(buildRunSpec('busybox', [], { name: 'web' }, [amd64]).placement!.platforms).toEqual([amd64]);
    expect(buildRunSpec('busybox', [], { name: 'web' }).placement!.platforms).toEqual([]);
  });

  it('refuses a malformed --platform with one line', () => {
    const options: RunOptions = { name: 'web', platform: ['linux/amd46'] };
    expect(() => buildRunSpec('busybox', [], options)).toThrow(CliError);
    expect(() => buildRunSpec('busybox', [], options)).toThrow('invalid platform "linux/amd46": unknown architecture "amd46"; use e.g. amd64, arm64, arm/v7, arm/v6 or 386');
  });

  it('asks the engine only without --platform and without --no-resolve-image', async () => {
    const ask = resolver();
    expect(await platformsForRun('img:1', { platform: ['linux/arm64'] }, ask)).toEqual([arm64]);
    expect(await platformsForRun('img:1', { resolveImage: false }, ask)).toEqual([]);
    expect(ask.asked).toEqual([]);
    expect(await platformsForRun('img:1', { resolveImage: true }, ask)).toEqual([amd64]);
    expect(ask.asked).toEqual(['img:1']);
  });
});

describe('update: image platforms', () => {
  const current = buildRunSpec('busybox:1', [], { name: 'web' }, [arm64]);

  it('re-resolves when the image changes, keeps them otherwise', async () => {
    const ask = resolver([amd64]);
    expect(await platformsForUpdate([arm64], undefined, {}, ask)).toEqual([arm64]);
    expect(ask.asked).toEqual([]);
    expect(await platformsForUpdate([arm64], 'busybox:2', {}, ask)).toEqual([amd64]);
    expect(ask.asked).toEqual(['busybox:2']);
    // Unknown locally: the old image's platforms say nothing about the new one.
    expect(await platformsForUpdate([arm64], 'elsewhere:1', {}, resolver([]))).toEqual([]);
  });

  it('records none for a new image with --no-resolve-image, and takes --platform as given', async () => {
    const ask = resolver();
    expect(await platformsForUpdate([arm64], 'busybox:2', { resolveImage: false }, ask)).toEqual([]);
    expect(await platformsForUpdate([arm64], undefined, { resolveImage: false }, ask)).toEqual([arm64]);
    expect(await platformsForUpdate([arm64], 'busybox:2', { platform: ['linux/x86_64'] }, ask)).toEqual([amd64]);
    expect(ask.asked).toEqual([]);
  });

  it('puts the chosen platforms into the spec, else --platform, else the current ones', () => {
    expect(buildUpdatedSpec(current, { image: 'busybox:2' }, [amd64]).placement!.platforms).toEqual([amd64]);
    expect(buildUpdatedSpec(current, { platform: ['linux/amd64'] }).placement!.platforms).toEqual([amd64]);
    expect(buildUpdatedSpec(current, { replicas: '2' }).placement!.platforms).toEqual([arm64]);
  });
});

describe('flag parsing', () => {
  /** The options commander hands to `name`'s action for argv, with the action replaced so nothing is sent. */
  async function parsed<T>(name: string, argv: string[]): Promise<T> {
    const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
    const program = buildProgram(new Context(() => undefined, sink, async () => []));
    let seen: T | undefined;
    program.commands.find((command) => command.name() === name)!.action((...args: unknown[]) => {
      seen = args[args.length - 2] as T;
    });
    await program.parseAsync(argv, { from: 'user' });
    return seen!;
  }

  it('run: --platform repeats, --no-resolve-image turns resolution off, and both stop at the image', async () => {
    const options = await parsed<RunOptions>('run', ['run', '--name', 'web', '--platform', 'linux/arm64', '--platform', 'linux/amd64', '--no-resolve-image', 'busybox', '--platform', 'x']);
    expect(options.platform).toEqual(['linux/arm64', 'linux/amd64']);
    expect(options.resolveImage).toBe(false);
    expect((await parsed<RunOptions>('run', ['run', '--name', 'web', 'busybox'])).resolveImage).toBe(true);
  });

  it('update: the same flags', async () => {
    const options = await parsed<UpdateOptions>('update', ['update', '--image', 'busybox:2', '--platform', 'linux/arm/v7', '--no-resolve-image', 'web']);
    expect(options).toMatchObject({ image: 'busybox:2', platform: ['linux/arm/v7'], resolveImage: false });
  });
});

describe('reading an image\'s platform from the local engine', () => {
  const servers: net.Server[] = [];
  afterEach(() => {
    for (const server of servers.splice(0)) server.close();
  });

  async function listen(server: net.Server): Promise<number> {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as net.AddressInfo).port;
  }

  /** An engine that knows one image, as the Engine API's image inspect answers. */
  async function engine(images: Record<string, object>): Promise<number> {
    return listen(
      http.createServer((request, response) => {
        const match = /\/images\/(.+)\/json$/.exec(decodeURIComponent(request.url ?? ''));
        const image = match ? images[match[1]] : undefined;
        response.writeHead(image ? 200 : 404, { 'content-type': 'application/json' });
        response.end(JSON.stringify(image ?? { message: 'No such image' }));
      }),
    );
  }

  it('reads Os, Architecture and Variant of an image the engine has', async () => {
    const port = await engine({ 'pi/app:1': { Id: 'sha256:1', Os: 'linux', Architecture: 'arm', Variant: 'v7' } });
    const docker = { host: '127.0.0.1', port, protocol: 'http' as const };
    expect(await localImagePlatforms('pi/app:1', { docker })).toEqual([{ os: 'linux', architecture: 'arm/v7' }]);
    expect(await localImagePlatforms('other:1', { docker })).toEqual([]);
  });

  it('records none when no engine answers, at once or within the timeout', async () => {
    expect(await localImagePlatforms('busybox', { docker: { socketPath: '/nonexistent/docker.sock' } })).toEqual([]);
    // Accepts the connection and never answers.
    const port = await listen(net.createServer(() => undefined));
    const started = Date.now();
    expect(await localImagePlatforms('busybox', { timeoutMs: 300, docker: { host: '127.0.0.1', port, protocol: 'http' } })).toEqual([]);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
