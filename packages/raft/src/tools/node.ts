#!/usr/bin/env node
// A standalone Raft node for the real-process test and the benchmark: gRPC transport
// over pisched's mutual TLS, SQLite storage, a list state machine, and a small loopback
// HTTP control API.
//   node dist/tools/node.js --id 1 --peers 1=127.0.0.1:7001,2=127.0.0.2:7002,3=127.0.0.3:7003
//        --data DIR --tls-dir DIR --http 127.0.0.1:8001 [--tick-ms 50] [--snapshot-entries 10000]
// --tls-dir holds ca.pem, node.pem and node.key (see member-tls.ts).
import * as http from 'node:http';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { NotLeaderError, RaftHost, StateMachine } from '../host.js';
import { SqliteStorage } from '../storage/sqlite.js';
import { GrpcTransport } from '../transport/grpc.js';
import { memberCredentials, readMemberIdentity } from './member-tls.js';

function arg(name: string, def?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && process.argv[i + 1] !== undefined) return process.argv[i + 1];
  if (def === undefined) throw new Error(`missing --${name}`);
  return def;
}

class ListMachine implements StateMachine {
  items: string[] = [];
  apply(_index: number, data: Uint8Array): void {
    this.items.push(Buffer.from(data).toString('utf8'));
  }
  snapshot(): Uint8Array {
    return Buffer.from(JSON.stringify(this.items));
  }
  restore(data: Uint8Array): void {
    this.items = JSON.parse(Buffer.from(data).toString('utf8')) as string[];
  }
  /**
   * apply() only appends and restore() replaces the array, so the array and its length are a
   * capture; the JSON is then written a few thousand items per event-loop turn (the same
   * bytes as snapshot()).
   */
  captureSnapshot(): (signal: AbortSignal) => Promise<Uint8Array[]> {
    const items = this.items;
    const count = items.length;
    return async (signal) => {
      const parts: Uint8Array[] = [Buffer.from('[')];
      for (let at = 0; at < count; at += 5_000) {
        const slice = JSON.stringify(items.slice(at, Math.min(count, at + 5_000)));
        parts.push(Buffer.from((at > 0 ? ',' : '') + slice.slice(1, -1)));
        await new Promise((resolve) => setImmediate(resolve));
        signal.throwIfAborted();
      }
      parts.push(Buffer.from(']'));
      return parts;
    };
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(): Promise<void> {
  const id = Number(arg('id'));
  const peers: Record<number, string> = {};
  for (const kv of arg('peers').split(',')) {
    const [k, v] = kv.split('=');
    peers[Number(k)] = v;
  }
  const dataDir = arg('data');
  fs.mkdirSync(dataDir, { recursive: true });
  const [httpHost, httpPort] = arg('http').split(':');
  const sm = new ListMachine();
  const storage = new SqliteStorage(path.join(dataDir, 'raft.db'));
  const transport = new GrpcTransport({ id, listen: peers[id], peers, credentials: memberCredentials(readMemberIdentity(arg('tls-dir'))) });
  const host = new RaftHost({
    id,
    peers: Object.keys(peers).map(Number),
    storage,
    transport,
    stateMachine: sm,
    tickMs: Number(arg('tick-ms', '50')),
    snapshotEntries: Number(arg('snapshot-entries', '10000')),
    compactionMargin: Number(arg('compaction-margin', '1000')),
  });
  let installed = 0;
  host.on('snapshot-installed', () => installed++);
  await host.start();

  const server = http.createServer((req, res) => {
    const send = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === '/status') {
      send(200, { id, leader: host.leaderId, isLeader: host.isLeader, term: host.term, applied: host.appliedIndex, snapshotIndex: host.snapshotIndex, installedSnapshots: installed });
      return;
    }
    if (req.method === 'GET' && url.pathname === '/items') {
      send(200, { applied: host.appliedIndex, items: sm.items });
      return;
    }
    if (req.method === 'POST' && url.pathname === '/propose') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        host.propose(Buffer.concat(chunks)).then(
          (r) => send(200, { index: r.index }),
          (e: Error) => send(503, { error: e.message, leader: e instanceof NotLeaderError ? e.leaderId : host.leaderId }),
        );
      });
      return;
    }
    if (req.method === 'POST' && url.pathname === '/bench/latency') {
      // One client issuing proposals back to back, measured inside the leader process.
      const n = Number(url.searchParams.get('n') ?? '2000');
      void (async () => {
        const lat: number[] = [];
        const payload = Buffer.alloc(128, 1);
        try {
          for (let i = 0; i < n; i++) {
            const t0 = process.hrtime.bigint();
            await host.propose(payload);
            lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
          }
          lat.sort((a, b) => a - b);
          send(200, { n, p50: percentile(lat, 50), p99: percentile(lat, 99), mean: lat.reduce((a, b) => a + b, 0) / n });
        } catch (e) {
          send(503, { error: (e as Error).message });
        }
      })();
      return;
    }
    if (req.method === 'POST' && url.pathname === '/bench/throughput') {
      const conc = Number(url.searchParams.get('concurrency') ?? '64');
      const ms = Number(url.searchParams.get('ms') ?? '5000');
      void (async () => {
        let done = 0;
        let failed = 0;
        const payload = Buffer.alloc(128, 2);
        const t0 = Date.now();
        const worker = async (): Promise<void> => {
          while (Date.now() - t0 < ms) {
            try {
              await host.propose(payload);
              done++;
            } catch {
              failed++;
              return;
            }
          }
        };
        await Promise.all(Array.from({ length: conc }, worker));
        const secs = (Date.now() - t0) / 1000;
        send(200, { concurrency: conc, proposals: done, failed, seconds: secs, perSecond: done / secs });
      })();
      return;
    }
    send(404, { error: 'not found' });
  });
  server.listen(Number(httpPort), httpHost, () => {
    process.stdout.write(`ready ${id}\n`);
  });
  const shutdown = (): void => {
    server.close();
    void host.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
