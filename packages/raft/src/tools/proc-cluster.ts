// Spawns real node processes (dist/tools/node.js) on 127.0.0.x for tests and the benchmark.
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { memberIdentities, writeMemberIdentity } from './member-tls.js';

/** dist/tools/node.js, whether this file runs from src/ (vitest) or dist/. */
export const NODE_SCRIPT = path.resolve(__dirname, '../../dist/tools/node.js');

export interface ProcNode {
  id: number;
  raftAddr: string;
  httpAddr: string;
  dataDir: string;
  tlsDir: string;
  proc?: ChildProcess;
}

export class ProcCluster {
  readonly nodes: ProcNode[] = [];
  readonly root: string;
  constructor(
    n: number,
    basePort: number,
    private tickMs = 50,
    private extraArgs: string[] = [],
  ) {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'raft-proc-'));
    for (let i = 1; i <= n; i++) {
      this.nodes.push({
        id: i,
        raftAddr: `127.0.0.${i}:${basePort + i}`,
        httpAddr: `127.0.0.${i}:${basePort + 100 + i}`,
        dataDir: path.join(this.root, `n${i}`),
        tlsDir: path.join(this.root, `tls${i}`),
      });
    }
  }

  /** Made once, before the first node starts: every node's certificate of one root CA. */
  private identities?: Promise<void>;

  node(id: number): ProcNode {
    return this.nodes[id - 1];
  }

  async start(id: number): Promise<void> {
    const n = this.node(id);
    this.identities ??= memberIdentities(this.nodes.map((p) => p.id)).then((made) => {
      for (const p of this.nodes) writeMemberIdentity(p.tlsDir, made.get(p.id)!);
    });
    await this.identities;
    const peers = this.nodes.map((p) => `${p.id}=${p.raftAddr}`).join(',');
    const proc = spawn(
      process.execPath,
      [...(process.env.RAFT_NODE_ARGS?.split(' ').filter(Boolean) ?? []), NODE_SCRIPT, '--id', String(id), '--peers', peers, '--data', n.dataDir, '--tls-dir', n.tlsDir, '--http', n.httpAddr, '--tick-ms', String(this.tickMs), ...this.extraArgs],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    n.proc = proc;
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer): void => {
        if (d.toString().includes(`ready ${id}`)) {
          proc.stdout!.off('data', onData);
          resolve();
        }
      };
      proc.stdout!.on('data', onData);
      proc.once('exit', (code) => reject(new Error(`node ${id} exited with ${code}: ${stderr}`)));
    });
  }

  async startAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.start(n.id)));
  }

  /** kill -9: no shutdown, no flush. */
  kill9(id: number): Promise<void> {
    const p = this.node(id).proc;
    // A process killed by a signal has signalCode set and exitCode null: kill -9 it again and process.kill throws ESRCH.
    if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      p.once('exit', () => resolve());
      process.kill(p.pid!, 'SIGKILL');
    });
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.kill9(n.id)));
    fs.rmSync(this.root, { recursive: true, force: true });
  }

  async status(id: number): Promise<{ leader: number; isLeader: boolean; term: number; applied: number } | undefined> {
    try {
      const r = await fetch(`http://${this.node(id).httpAddr}/status`, { signal: AbortSignal.timeout(500) });
      return (await r.json()) as { leader: number; isLeader: boolean; term: number; applied: number };
    } catch {
      return undefined;
    }
  }

  async installedSnapshots(id: number): Promise<number> {
    const r = await fetch(`http://${this.node(id).httpAddr}/status`);
    return ((await r.json()) as { installedSnapshots: number }).installedSnapshots;
  }

  async leader(timeoutMs = 10_000, exclude: number[] = []): Promise<number> {
    const t0 = Date.now();
    while (Date.now() - t0 < timeoutMs) {
      for (const n of this.nodes) {
        if (exclude.includes(n.id)) continue;
        const s = await this.status(n.id);
        if (s?.isLeader) return n.id;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('no leader');
  }

  /** POST /propose; resolves with the index if the node accepted and applied it. */
  async propose(id: number, value: string): Promise<{ ok: true; index: number } | { ok: false; leader: number; error: string }> {
    try {
      const r = await fetch(`http://${this.node(id).httpAddr}/propose`, { method: 'POST', body: value, signal: AbortSignal.timeout(3000) });
      const body = (await r.json()) as { index?: number; leader?: number; error?: string };
      if (r.status === 200) return { ok: true, index: body.index! };
      return { ok: false, leader: body.leader ?? 0, error: body.error ?? '' };
    } catch (e) {
      return { ok: false, leader: 0, error: (e as Error).message };
    }
  }

  async items(id: number): Promise<string[]> {
    const r = await fetch(`http://${this.node(id).httpAddr}/items`);
    return ((await r.json()) as { items: string[] }).items;
  }

  async post<T>(id: number, pathAndQuery: string): Promise<T> {
    const r = await fetch(`http://${this.node(id).httpAddr}${pathAndQuery}`, { method: 'POST' });
    return (await r.json()) as T;
  }
}
