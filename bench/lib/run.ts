import { heal, measureFailover, type FailoverRun } from './failover';
import { formatFailover, formatThroughput } from './report';
import { measureApi, measureCli, type Throughput } from './throughput';
import { Trio, adminOf } from './trio';

export interface BenchOptions {
  runs: number;
  concurrency: number[];
  durationMs: number;
  cliOps: number;
  /** Each line of the report as soon as it is known, so a long run shows progress. */
  print?: (text: string) => void;
}

export interface BenchResult {
  runs: FailoverRun[];
  throughput: Throughput[];
  report: string;
}

/** The whole benchmark on one fresh cluster of three; everything it started is gone when it returns or throws. */
export async function runBench(options: BenchOptions): Promise<BenchResult> {
  const print = options.print ?? (() => undefined);
  const trio = await Trio.start();
  try {
    const runs: FailoverRun[] = [];
    for (let i = 0; i < options.runs; i++) {
      const run = await measureFailover(trio);
      runs.push(run);
      print(`failover run ${i + 1}/${options.runs}: first write acknowledged ${run.firstAckMs} ms after kill -9 (elected ${run.electedMs} ms)`);
      // Back to three members, so every run and the throughput below start from a whole cluster.
      await heal(trio, run.killed);
    }

    const { leader } = await trio.leader();
    const follower = trio.members.find((m) => m !== leader)!;
    const throughput: Throughput[] = [];
    for (const [target, member] of [['leader', leader], ['follower', follower]] as const) {
      for (const concurrency of options.concurrency) {
        const row = await measureApi(member.address, adminOf(member.dataDir), `API to ${target}`, concurrency, options.durationMs);
        throughput.push(row);
        print(`${row.target}, ${concurrency} client(s): ${row.opsPerSec.toFixed(1)} ops/s`);
      }
    }
    if (options.cliOps > 0) throughput.push(await measureCli(leader.address, 'pisched CLI to leader', options.cliOps));

    const report = `${formatFailover(runs)}\n${formatThroughput(throughput)}`;
    return { runs, throughput, report };
  } catch (error) {
    const logs = trio.members.map((m) => `--- ${m.id}\n${m.daemon.tail(15)}`).join('\n');
    throw new Error(`${(error as Error).message}\n${logs}`);
  } finally {
    await trio.stop();
  }
}
