import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export interface CountingSocket {
  /** Where to point the agent's --docker-socket. */
  socketPath: string;
  /** Requests seen so far, by "METHOD /path" with ids and query strings taken out. */
  counts: () => Map<string, number>;
  /** Every request seen so far, in order, with when it came in (Date.now()) and its path as sent (ids in it). */
  log: () => Array<{ at: number; key: string; url: string }>;
  close: () => Promise<void>;
}

// Not anchored to a line start: on a kept-alive connection a request follows the last one's body directly.
const REQUEST_LINE = /(GET|POST|PUT|DELETE|HEAD) (\/\S*) HTTP\/1\.[01]\r\n/g;

/** "/v1.41/containers/3f2a…/start?x=1" → "/containers/{id}/start": one row per kind of request. */
function kind(method: string, url: string): string {
  const bare = url.split('?')[0]!.replace(/^\/v[\d.]+/, '');
  // An image's name has slashes of its own: everything between /images/ and the last part is the name.
  const image = /^\/images\/(.+)\/(json|history|get|push|tag)$/.exec(bare);
  if (image) return `${method} /images/{name}/${image[2]}`;
  const parts = bare.split('/').map((part, i, all) => {
    const isIdSlot = i === 2 && (all[1] === 'containers' || all[1] === 'networks') && !['json', 'create', 'prune'].includes(part);
    return isIdSlot ? '{id}' : part;
  });
  return `${method} ${parts.join('/')}`;
}

/**
 * A unix socket in front of the engine's that passes every byte through and
 * counts the HTTP requests going in: how many times the agent asks the engine
 * something is a figure a busy shared machine cannot blur, unlike its timings.
 */
export async function countingEngineSocket(engineSocket = '/var/run/docker.sock'): Promise<CountingSocket> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-engine-count-'));
  const socketPath = path.join(dir, 'docker.sock');
  const counts = new Map<string, number>();
  const seen: Array<{ at: number; key: string; url: string }> = [];
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const engine = net.connect(engineSocket);
    open.add(client).add(engine);
    // A request line cut in two by a chunk boundary is found again with the tail of the last chunk.
    let tail = '';
    client.on('data', (chunk: Buffer) => {
      const text = tail + chunk.toString('latin1');
      let consumed = 0;
      for (const match of text.matchAll(REQUEST_LINE)) {
        const key = kind(match[1]!, match[2]!);
        counts.set(key, (counts.get(key) ?? 0) + 1);
        seen.push({ at: Date.now(), key, url: match[2]! });
        consumed = match.index! + match[0].length;
      }
      tail = text.slice(Math.max(consumed, text.length - 512));
    });
    client.pipe(engine).pipe(client);
    const end = () => {
      client.destroy();
      engine.destroy();
      open.delete(client);
      open.delete(engine);
    };
    client.on('error', end).on('close', end);
    engine.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(socketPath, resolve));
  return {
    socketPath,
    counts: () => new Map(counts),
    log: () => [...seen],
    close: async () => {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
