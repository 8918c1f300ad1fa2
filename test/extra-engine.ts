import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Docker from 'dockerode';
import { waitFor } from './harness';

/**
 * A second engine with an image store of its own, so one node can lack an
 * image the other holds. It runs in a network namespace of its own, with no
 * bridge and no iptables: `dockerd --bridge=none` deletes any interface named
 * docker0 it sees (moby's removeDefaultBridgeInterface), which in the host's
 * namespace is the shared engine's. Tasks run without a network, which is all
 * these need; agents reach it through its unix socket. The namespace goes
 * with the process.
 */
export class ExtraEngine {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-p2p-engine-'));
  readonly socket = path.join(this.dir, 'docker.sock');
  readonly docker = new Docker({ socketPath: this.socket });
  private child?: ChildProcess;
  output = '';

  async start(): Promise<void> {
    const child = spawn('unshare', ['--net', '--', 'dockerd',
      '--data-root', path.join(this.dir, 'data'), '--exec-root', path.join(this.dir, 'exec'), '--pidfile', path.join(this.dir, 'docker.pid'),
      '-H', `unix://${this.socket}`, '--bridge=none', '--iptables=false', '--ip6tables=false', '--ip-masq=false',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-4000)));
    child.stderr!.on('data', (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-4000)));
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`dockerd exited:\n${this.output}`);
      return this.docker.ping().then(() => true, () => false);
    }, 30_000, 'the extra dockerd to answer');
  }

  /** Stops only the dockerd this test started, then unmounts what it left and removes its directory. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    const mounts = fs.readFileSync('/proc/mounts', 'utf8').split('\n').map((line) => line.split(' ')[1]).filter((point) => point?.startsWith(this.dir));
    for (const point of mounts.sort().reverse()) {
      try {
        execFileSync('umount', ['-l', point], { stdio: 'ignore' });
      } catch {
        // gone with its parent already
      }
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

