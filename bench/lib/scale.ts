import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Task } from '@pisched/api';
import { buildRunSpec } from '../../packages/cli/src/commands/run';
import { SchedulerClient } from '../../packages/cli/src/scheduler-client';
import { scrape, total } from './metrics-scrape';
import { Footprint, machineTicks } from './proc-stats';
import { SimAgents } from './sim-agents';
import { Trio, adminOf, type Member } from './trio';
import type { Daemon } from '../../test/harness';

export const SERVICES = 100;
/** Placement needs something to weigh: without a reservation every node ties and spread cannot spread. */
const TASK_MEMORY = '8M';
const CREATE_CLIENTS = 8;
const POLL_MS = 200;
const RECONNECT_LIMIT_MS = 120_000;

export interface ScaleOptions {
  agents: number;
  /** Task counts to run on this cluster, one row each (multiples of SERVICES). */
  tasks: number[];
  startDelayMs: number;
  idleMs: number;
  print: (line: string) => void;
}

export interface Usage {
  cpuPercent: number;
  cpuSeconds: number;
  /** Seconds its event loop's thread was ready to run but had no core. */
  waitSeconds: number;
  rssMiB: number;
}

export interface ScaleRow {
  agents: number;
  tasks: number;
  /** First agent process started to every node ready. */
  joinMs: number;
  idleLeader: Usage;
  idleFollower: Usage;
  /** First service create sent to the last one answered (100 CreateService calls from 8 clients). */
  createdMs: number;
  /** First service create sent to every task assigned to a node, committed (seen on a follower). */
  placedMs: number;
  /** … to every task running. */
  runningMs: number;
  /** Raft entries committed from the first create to every task running. */
  raftEntries: number;
  /** The leader's mean time from proposing a write to its commit and apply, in the burst: writes go one at a time, so this paces everything. */
  commitMs: number;
  burstLeader: Usage;
  burstFollower: Usage;
  /** The burst on the whole machine: the share of its cores left idle, and the CPU seconds of the simulated agents' processes (which share the cores). */
  burstMachineIdlePercent: number;
  burstAgentsCpuSeconds: number;
  /** kill -9 of 10 % of the agents: the tasks they ran, and the time until every one runs elsewhere. */
  lostTasks: number;
  agentLossMs: number;
  /** kill -9 of the leader to every agent in session with the new one. */
  reconnectMs: number;
  /** Sessions the new leader held when reconnectMs was taken, or at the limit when not every agent came back (reconnectMs is then Infinity). */
  sessionsHeld: number;
  /** Tasks running before the leader was killed that no longer run (or run as another task) after. */
  rescheduled: number;
}

const metricsAddress = (address: string): string => {
  const [host, port] = [address.replace(/:\d+$/, ''), Number(address.replace(/^.*:/, ''))];
  // The member's own loopback address; Raft has port + 1.
  return `${host}:${port + 2}`;
};

const mib = (bytes: number) => bytes / 1024 ** 2;
const usage = (figures: { cpuPercent: number; cpuSeconds: number; waitSeconds: number; peakRssBytes: number }): Usage => ({
  cpuPercent: figures.cpuPercent,
  cpuSeconds: figures.cpuSeconds,
  waitSeconds: figures.waitSeconds,
  rssMiB: mib(figures.peakRssBytes),
});
/** BENCH_NODE_ARGS profiles the schedulers (e.g. --cpu-prof); their profiles are written only by a clean exit. */
const profiled = Boolean(process.env.BENCH_NODE_ARGS);
/** The clock V8 stamps a CPU profile's samples with (CLOCK_MONOTONIC on Linux), in µs, so a window of a profile can be cut out. */
const monotonicUs = () => process.hrtime.bigint() / 1000n;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A Control API call, asked again while the cluster is between leaders (a member just restarted may call an election). */
async function patiently<T>(call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (!/not the leader|leadership|election|unavailable|timed out|deadline/i.test((error as Error).message) || Date.now() > deadline) throw error;
      await sleep(500);
    }
  }
}

/** Tasks meant to run and running, by id. */
function runningIds(tasks: Task[]): Set<string> {
  return new Set(tasks.filter((task) => task.desiredState === 'RUNNING' && task.status?.state === 'RUNNING').map((task) => task.id));
}

/**
 * One cluster of three schedulers and `agents` simulated nodes in two
 * processes (90 % and the 10 % that is killed), then for each task count: the
 * burst, the loss of 10 % of the agents, the loss of the leader. Everything
 * started is gone when it returns or throws.
 */
export async function runScale(options: ScaleOptions): Promise<ScaleRow[]> {
  const { print } = options;
  const trio = await Trio.start({ extraArgs: (member) => ['--metrics-addr', metricsAddress(member.address)] });
  const addresses = trio.members.map((member) => member.address);
  const client = new SchedulerClient(addresses, adminOf(trio.members[0].dataDir), 30_000);
  const agentSets: SimAgents[] = [];
  const metricsOf = (member: Member) => scrape(metricsAddress(member.address));
  const follower = async () => {
    const { leader } = await trio.leader();
    return trio.members.find((member) => member !== leader && member.daemon.running)!;
  };
  /** Waits for a follower's view of the store to satisfy check; returns ms since `since`. An agent process that died fails it at once. */
  const until = async (since: number, what: string, timeoutMs: number, check: (samples: Map<string, number>) => boolean | Promise<boolean>) => {
    const watcher = await follower();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const set of agentSets) if (!set.daemon.running && !set.killed) throw new Error(`${set.daemon.name} exited:\n${set.daemon.tail()}`);
      // The time of the poll, not of the answer: a check may ask the cluster more before it says yes.
      const polledAt = performance.now();
      const samples = await metricsOf(watcher).catch(() => undefined);
      if (samples && (await check(samples))) return polledAt - since;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(POLL_MS);
    }
  };
  try {
    const { token } = await patiently(() => client.joinToken('worker', false));
    const victims = Math.max(1, Math.round(options.agents / 10));
    const joinStart = performance.now();
    const main = new SimAgents({ prefix: 'sa-', count: options.agents - victims, schedulers: addresses, token, startDelayMs: options.startDelayMs });
    const lost = new SimAgents({ prefix: 'sv-', count: victims, schedulers: addresses, token, startDelayMs: options.startDelayMs });
    agentSets.push(main, lost);
    const allReady = (s: Map<string, number>) => total(s, 'pisched_nodes', 'state="ready"') >= options.agents;
    const joinMs = await until(joinStart, `${options.agents} nodes ready`, 300_000, allReady);
    print(`${options.agents} agents: every node ready ${(joinMs / 1000).toFixed(1)} s after start (each joined with the token: a certificate each)`);

    await sleep(3_000);
    let { leader } = await trio.leader();
    let other = await follower();
    const idleL = new Footprint(leader.daemon.child.pid!);
    const idleF = new Footprint(other.daemon.child.pid!);
    await sleep(options.idleMs);
    const idleLeader = usage(idleL.finish());
    const idleFollower = usage(idleF.finish());
    print(`  idle, ${options.agents} agents heartbeating: leader ${idleLeader.cpuPercent.toFixed(1)} % CPU, ${idleLeader.rssMiB.toFixed(0)} MiB; follower ${idleFollower.cpuPercent.toFixed(1)} %, ${idleFollower.rssMiB.toFixed(0)} MiB`);

    const rows: ScaleRow[] = [];
    for (const tasks of options.tasks) {
      ({ leader } = await trio.leader());
      other = await follower();
      const replicas = Math.round(tasks / SERVICES);
      const leaderBefore = await metricsOf(leader);
      const commitBefore = total(leaderBefore, 'pisched_raft_commit_index');
      const proposals = (samples: Map<string, number>) => [total(samples, 'pisched_raft_proposal_seconds_sum'), total(samples, 'pisched_raft_proposal_seconds_count')];
      const [proposedSecondsBefore, proposedBefore] = proposals(leaderBefore);
      const burstL = new Footprint(leader.daemon.child.pid!);
      const burstF = new Footprint(other.daemon.child.pid!);
      const burstAgents = agentSets.map((set) => new Footprint(set.daemon.child.pid!));
      const machineBefore = machineTicks();
      const t0 = performance.now();
      const burstStartUs = monotonicUs();
      const names = Array.from({ length: SERVICES }, (_, i) => `scale-${tasks}-${i + 1}`);
      const queue = [...names];
      await Promise.all(Array.from({ length: CREATE_CLIENTS }, async () => {
        for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
          const spec = buildRunSpec('simulated/app:1', [], { name, replicas: String(replicas), memory: TASK_MEMORY, placementStrategy: 'spread' });
          // A create asked again after a timeout may find its own first attempt done: the names are this run's alone.
          await patiently(() => client.createService(spec).catch((error: Error) => {
            if (!/already in use/.test(error.message)) throw error;
          }));
        }
      }));
      const createdMs = performance.now() - t0;
      const placedStates = ['assigned', 'accepted', 'preparing', 'starting', 'running'];
      let placedMs = 0;
      const runningMs = await until(t0, `${tasks} tasks running`, 600_000, (s) => {
        if (placedMs === 0 && placedStates.reduce((sum, state) => sum + total(s, 'pisched_tasks', `state="${state}"`), 0) >= tasks) placedMs = performance.now() - t0;
        return total(s, 'pisched_tasks', 'state="running"') >= tasks;
      });
      const leaderAfter = await metricsOf(leader);
      const raftEntries = total(leaderAfter, 'pisched_raft_commit_index') - commitBefore;
      const [proposedSeconds, proposed] = proposals(leaderAfter);
      const commitMs = proposed > proposedBefore ? (1000 * (proposedSeconds - proposedSecondsBefore)) / (proposed - proposedBefore) : 0;
      const burstLeader = usage(burstL.finish());
      const burstFollower = usage(burstF.finish());
      const burstAgentsCpuSeconds = burstAgents.reduce((sum, footprint) => sum + footprint.finish().cpuSeconds, 0);
      const machineAfter = machineTicks();
      const burstMachineIdlePercent = (100 * (machineAfter.idle - machineBefore.idle)) / (machineAfter.idle - machineBefore.idle + machineAfter.busy - machineBefore.busy);
      if (profiled) print(`  burst window for the profiles (CLOCK_MONOTONIC µs, as V8's profile timestamps): ${burstStartUs}–${monotonicUs()}, leader ${leader.id}`);
      print(`  ${tasks} tasks: 100 services created ${(createdMs / 1000).toFixed(2)} s, all placed ${(placedMs / 1000).toFixed(2)} s, all running ${(runningMs / 1000).toFixed(2)} s, ${raftEntries} Raft entries (mean commit ${commitMs.toFixed(0)} ms); leader ${burstLeader.cpuPercent.toFixed(0)} % CPU (${burstLeader.cpuSeconds.toFixed(1)} CPU s), ${burstLeader.rssMiB.toFixed(0)} MiB`);
      // Whether the burst waits for work or for cores: a saturated machine leaves no core idle, and its processes queue for one.
      print(`  in the burst: the machine's cores ${burstMachineIdlePercent.toFixed(0)} % idle; the leader's event loop waited ${burstLeader.waitSeconds.toFixed(2)} s for a core, the follower's ${burstFollower.waitSeconds.toFixed(2)} s; follower ${burstFollower.cpuSeconds.toFixed(1)} CPU s, the simulated agents' processes ${burstAgentsCpuSeconds.toFixed(1)} CPU s`);

      // 10 % of the agents die at once.
      const before = await patiently(() => client.listTasks());
      const victimIds = new Set(lost.nodeIds);
      const lostTasks = [...runningIds(before)].filter((id) => victimIds.has(before.find((task) => task.id === id)!.nodeId)).length;
      const killedAt = performance.now();
      await lost.kill();
      const agentLossMs = await until(killedAt, 'lost tasks to run elsewhere', 120_000, async (s) => {
        if (total(s, 'pisched_nodes', 'state="down"') < victims || total(s, 'pisched_service_running_tasks') < tasks) return false;
        // A dead node's tasks count as running until a control loop round replaces them, so the
        // metrics alone can say yes in between: only tasks running on the nodes still alive count.
        const now = await patiently(() => client.listTasks());
        return now.filter((task) => task.desiredState === 'RUNNING' && task.status?.state === 'RUNNING' && !victimIds.has(task.nodeId)).length >= tasks;
      });
      print(`  killed ${victims} agents (${lostTasks} tasks): all running elsewhere after ${(agentLossMs / 1000).toFixed(2)} s`);
      lost.restart();
      await until(performance.now(), 'the killed agents back', 120_000, allReady);

      // The leader dies.
      await sleep(2_000);
      ({ leader } = await trio.leader());
      const runningBefore = runningIds(await patiently(() => client.listTasks()));
      const leaderKilledAt = performance.now();
      const leaderKilledUs = monotonicUs();
      // A profiled run stops the leader with SIGTERM: a killed process writes no --cpu-prof profile, and its burst is what is wanted.
      leader.daemon.child.kill(profiled ? 'SIGTERM' : 'SIGKILL');
      const survivors = trio.members.filter((member) => member !== leader);
      // What the reconnections cost: each surviving member's and the agents' processes' CPU from the kill to every agent back.
      const reconnectUsage = [...survivors.map((member) => new Footprint(member.daemon.child.pid!)), ...agentSets.map((set) => new Footprint(set.daemon.child.pid!))];
      // Not every agent back within the limit is a figure too (reported as the sessions held then), not a failed run.
      let reconnectMs = Number.POSITIVE_INFINITY;
      let sessionsHeld = 0;
      const reconnectDeadline = Date.now() + RECONNECT_LIMIT_MS;
      while (Date.now() < reconnectDeadline) {
        const views = await Promise.all(survivors.map((member) => metricsOf(member).catch(() => undefined)));
        const leading = views.find((s) => s && total(s, 'pisched_scheduler_leader') === 1);
        sessionsHeld = leading ? total(leading, 'pisched_dispatcher_sessions') : 0;
        if (sessionsHeld >= options.agents) {
          reconnectMs = performance.now() - leaderKilledAt;
          break;
        }
        await sleep(POLL_MS);
      }
      const reconnectCpu = reconnectUsage.map((footprint) => footprint.finish());
      const newLeaderAt = (await Promise.all(survivors.map((member) => metricsOf(member).then((s) => total(s, 'pisched_scheduler_leader') === 1, () => false)))).indexOf(true);
      const memberCpu = survivors.map((member, i) => `${member.id}${i === newLeaderAt ? ' (new leader)' : ''} ${reconnectCpu[i].cpuSeconds.toFixed(2)}`).join(', ');
      const agentsCpu = reconnectCpu.slice(survivors.length).map((usage) => usage.cpuSeconds.toFixed(2)).join(' + ');
      print(`  from the leader kill to every agent back, CPU s: ${memberCpu}; the simulated agents' processes ${agentsCpu}; their wait for a core ${reconnectCpu.slice(survivors.length).map((usage) => usage.waitSeconds.toFixed(2)).join(' + ')} s`);
      if (profiled || process.env.BENCH_SIM_PROF) print(`  leader-kill window for the profiles (CLOCK_MONOTONIC µs): ${leaderKilledUs}–${monotonicUs()}`);
      // Long enough for any wrong verdict (a node marked down, a task replaced) to have been made and committed.
      await sleep(6_000);
      const after = runningIds(await patiently(() => client.listTasks()));
      const rescheduled = [...runningBefore].filter((id) => !after.has(id)).length;
      print(`  killed the leader ${leader.id}: ${Number.isFinite(reconnectMs) ? `every agent with the new leader after ${(reconnectMs / 1000).toFixed(2)} s` : `only ${sessionsHeld} of ${options.agents} agents with the new leader after ${RECONNECT_LIMIT_MS / 1000} s`}; tasks rescheduled: ${rescheduled}`);
      await leader.daemon.stop(profiled ? 'SIGTERM' : 'SIGKILL');
      trio.restart(leader.id);
      await trio.settled(60_000);

      rows.push({ agents: options.agents, tasks, joinMs, idleLeader, idleFollower, createdMs, placedMs, runningMs, raftEntries, commitMs, burstLeader, burstFollower, burstMachineIdlePercent, burstAgentsCpuSeconds, lostTasks, agentLossMs, reconnectMs, sessionsHeld, rescheduled });

      for (const name of names) await patiently(() => client.removeService(name));
      await until(performance.now(), 'every task removed', 300_000, (s) => total(s, 'pisched_tasks') === 0);
    }
    // BENCH_KEEP_LOGS=1 keeps them after a run that passed too (e.g. to see which nodes a new leader marked down).
    if (process.env.BENCH_KEEP_LOGS) print(`whole logs in ${writeLogs(daemonsOf(trio, agentSets))}`);
    return rows;
  } catch (error) {
    // The whole logs go to files: a member that died mid-run is told by its last lines, not by the others' tails.
    const daemons = daemonsOf(trio, agentSets);
    const logDir = writeLogs(daemons);
    const states = daemons.map(({ name, daemon }) => `${name}: ${daemon.running ? 'running' : `exited (code ${daemon.child.exitCode}, signal ${daemon.child.signalCode})`}`).join('; ');
    const logs = daemons.map(({ name, daemon }) => `--- ${name}\n${daemon.tail(15)}`).join('\n');
    throw new Error(`${(error as Error).message}\n${states}; whole logs in ${logDir}\n${logs}`);
  } finally {
    client.close();
    for (const set of agentSets) await set.stop();
    await trio.stop();
  }
}

function daemonsOf(trio: Trio, agentSets: SimAgents[]): { name: string; daemon: Daemon }[] {
  return [...trio.replaced.map((m, i) => ({ name: `${m.id}-before-restart-${i + 1}`, daemon: m.daemon })), ...trio.members.map((m) => ({ name: m.id, daemon: m.daemon })), ...agentSets.map((set) => ({ name: set.daemon.name.replace(/\W+/g, '-'), daemon: set.daemon }))];
}

/** Each daemon's whole output in a file of a new directory under the temp dir; returns the directory. */
function writeLogs(daemons: { name: string; daemon: Daemon }[]): string {
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-bench-scale-logs-'));
  for (const { name, daemon } of daemons) fs.writeFileSync(path.join(logDir, `${name}.log`), daemon.output);
  return logDir;
}
