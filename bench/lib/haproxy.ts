import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export interface HaproxyOptions {
  listen: { address: string; port: number };
  backends: { address: string; port: number }[];
  /**
   * tcp: a layer-4 proxy, the same job as the mesh (one backend per client
   * connection). http: what HAProxy in front of web servers usually runs.
   */
  mode: 'tcp' | 'http';
}

/** The configuration people put in front of a few Pis: round robin over the replicas' host ports, nothing else. */
export function haproxyConfig(options: HaproxyOptions): string {
  return [
    'global',
    '  maxconn 4096',
    'defaults',
    `  mode ${options.mode}`,
    '  timeout connect 2s',
    '  timeout client 30s',
    '  timeout server 30s',
    'frontend bench',
    `  bind ${options.listen.address}:${options.listen.port}`,
    '  default_backend replicas',
    'backend replicas',
    '  balance roundrobin',
    ...options.backends.map((backend, i) => `  server r${i + 1} ${backend.address}:${backend.port}`),
    '',
  ].join('\n');
}

/** HAProxy from Debian in the foreground (-db), a child of this process, with its config in a temp dir of its own. */
export class Haproxy {
  private readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-bench-haproxy-'));
  readonly child: ChildProcess;
  private output = '';
  private readonly exited: Promise<void>;

  constructor(private readonly options: HaproxyOptions) {
    const config = path.join(this.dir, 'haproxy.cfg');
    fs.writeFileSync(config, haproxyConfig(options));
    this.child = spawn('haproxy', ['-db', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (chunk) => (this.output += chunk));
    this.child.stderr?.on('data', (chunk) => (this.output += chunk));
    this.exited = new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.once('error', (error) => {
        this.output += `${error.message} (bash scripts/ensure-bench-tools.sh installs haproxy)`;
        resolve();
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Resolves once it accepts connections; throws with its log if it exits or never does. */
  async ready(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.child.exitCode !== null || this.child.signalCode !== null || this.child.pid === undefined) throw new Error(`haproxy exited:\n${this.output}`);
      if (await accepts(this.options.listen.address, this.options.listen.port)) return;
      if (Date.now() > deadline) throw new Error(`haproxy did not listen within ${timeoutMs} ms:\n${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Synchronous, so a signal handler can call it too. */
  killNow(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  async stop(): Promise<void> {
    this.killNow();
    await this.exited;
  }
}

function accepts(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
