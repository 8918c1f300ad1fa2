#!/usr/bin/env node
// npm run bench -w packages/raft
// Three node processes over gRPC on 127.0.0.x with fsynced SQLite storage (WAL, synchronous=FULL).
// Prints figures; asserts nothing about time.
import * as os from 'node:os';
import { ProcCluster } from '../tools/proc-cluster.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function failover(c: ProcCluster): Promise<number> {
  const old = await c.leader();
  const others = c.nodes.map((n) => n.id).filter((id) => id !== old);
  await c.kill9(old);
  const t0 = Date.now();
  for (;;) {
    for (const id of others) {
      const r = await c.propose(id, `failover-${t0}`);
      if (r.ok) {
        const ms = Date.now() - t0;
        await c.start(old);
        await sleep(1500);
        return ms;
      }
    }
    await sleep(5);
    if (Date.now() - t0 > 30_000) throw new Error('no new leader accepted a write within 30 s');
  }
}

async function main(): Promise<void> {
  const c = new ProcCluster(3, 30000 + Math.floor(Math.random() * 10000));
  try {
    await c.startAll();
    const leader = await c.leader();
    await sleep(500);
    // warm-up
    await c.post(leader, '/bench/latency?n=200');
    const lat = await c.post<{ n: number; p50: number; p99: number; mean: number }>(leader, '/bench/latency?n=3000');
    const thr = await c.post<{ perSecond: number; proposals: number; failed: number; seconds: number }>(leader, '/bench/throughput?concurrency=64&ms=5000');
    const fo: number[] = [];
    for (let i = 0; i < 5; i++) fo.push(await failover(c));
    const sorted = [...fo].sort((a, b) => a - b);
    const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
    console.log(`machine: ${os.cpus().length} x ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`);
    console.log('3 nodes, gRPC on 127.0.0.x, SQLite WAL synchronous=FULL, 128-byte proposals, tick 50 ms, election timeout 500-1000 ms');
    console.log(`commit latency, one client back to back (n=${lat.n}): p50 ${lat.p50.toFixed(2)} ms, p99 ${lat.p99.toFixed(2)} ms, mean ${lat.mean.toFixed(2)} ms`);
    console.log(`throughput, 64 concurrent proposers: ${Math.round(thr.perSecond)} proposals/s (${thr.proposals} in ${thr.seconds.toFixed(1)} s, ${thr.failed} failed)`);
    console.log(`failover after kill -9 of the leader, to a new leader accepting a write: ${fo.map((x) => `${x} ms`).join(', ')} (median ${sorted[2]} ms)`);
  } finally {
    await c.stopAll();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
