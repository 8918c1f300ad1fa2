import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, Cluster, TEST_IMAGE, cli, dockerAvailable, freePort, startScheduler, uniqueName, waitFor } from './harness';

const hasDocker = await dockerAvailable();

interface EventRow {
  time: string;
  type: string;
  action: string;
  id: string;
  name: string;
  attributes: Record<string, string>;
}

/** A `pisched events` process left running, its output kept; stopped with Ctrl-C as a person would. */
class Watcher {
  output = '';
  errors = '';
  private readonly exited: Promise<number | null>;

  constructor(private readonly child: ChildProcess) {
    child.stdout!.on('data', (chunk) => (this.output += chunk));
    child.stderr!.on('data', (chunk) => (this.errors += chunk));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  rows(): EventRow[] {
    return this.output.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as EventRow);
  }

  async interrupt(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGINT');
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 10_000));
    const code = await Promise.race([this.exited, timeout]);
    if (code === 'timeout') {
      this.child.kill('SIGKILL');
      return -1;
    }
    return code;
  }
}

function watch(address: string, dataDir: string, args: string[]): Watcher {
  const child = spawn(process.execPath, [BIN.cli, '--scheduler', address, 'events', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // The admin bundle a scheduler writes into its data dir, as on a scheduler's own host.
    env: { ...process.env, PISCHED_TLS_DIR: path.join(dataDir, 'admin') },
  });
  return new Watcher(child);
}

/**
 * Issue 16 item 3 on real processes: a one-member Raft scheduler and one
 * agent; `pisched events` followed while a service is created, scaled and
 * removed, and the event sequence it printed.
 */
describe.skipIf(!hasDocker)('pisched events', () => {
  const cluster = new Cluster();
  const nodeId = uniqueName('evn');
  const service = uniqueName('evsvc');
  const watchers: Watcher[] = [];

  beforeAll(async () => {
    const port = await freePort();
    cluster.scheduler = await startScheduler({ port, extraArgs: ['--id', 'ev1', '--peers', `ev1=127.0.0.1:${port}`] });
    cluster.track(cluster.scheduler.daemon);
    cluster.dirs.push(cluster.scheduler.dataDir);
    await cluster.addAgent(nodeId, ['--cpus', '2', '--memory', '1G']);
  });

  afterAll(async () => {
    for (const watcher of watchers) await watcher.interrupt();
    await cluster.stop();
  });

  it('streams service create/update/remove and each task transition, history first with --since, filtered with --filter', async () => {
    const { address, dataDir } = cluster.scheduler;
    const all = watch(address, dataDir, ['--json', '--since', '10m']);
    // --since too, so that this watch misses nothing however late it connects.
    const servicesOnly = watch(address, dataDir, ['--since', '10m', '--filter', 'type=service', '--filter', `name=${service}`]);
    watchers.push(all, servicesOnly);

    // From the held history: the member's election and the agent's node, which came before the watch.
    await waitFor(() => all.rows().some((row) => row.type === 'node' && row.name === nodeId), 20_000, `node ${nodeId} in the history\n${all.errors}`);
    expect(all.rows().find((row) => row.type === 'leader')).toMatchObject({ action: 'elect', name: 'ev1' });

    expect((await cli(address, ['run', '--name', service, '--replicas', '1', TEST_IMAGE])).code).toBe(0);
    expect((await cli(address, ['scale', `${service}=2`])).code).toBe(0);
    const taskStates = (name: string) =>
      all.rows().filter((row) => row.type === 'task' && row.action === 'state' && row.name === name).map((row) => row.attributes.to);
    await waitFor(() => taskStates(`${service}.2`).includes('running'), 30_000, `${service}.2 running\n${all.output}`);
    expect((await cli(address, ['rm', service])).code).toBe(0);
    await waitFor(() => all.rows().some((row) => row.type === 'service' && row.action === 'remove'), 20_000, `${service} removed\n${all.output}`);

    const ours = all.rows().filter((row) => row.name === service || row.attributes.service === service);
    const serviceRows = ours.filter((row) => row.type === 'service');
    expect(serviceRows.map((row) => row.action)).toEqual(['create', 'update', 'remove']);
    expect(serviceRows[0].attributes).toMatchObject({ replicas: '1', image: expect.stringContaining('busybox') });
    expect(serviceRows[1].attributes).toMatchObject({ replicas: '2', 'replicas.old': '1' });
    // Each transition of the first task follows on from the last one, from pending to running.
    const transitions = ours.filter((row) => row.type === 'task' && row.action === 'state' && row.name === `${service}.1`);
    const chain = transitions.map((row) => `${row.attributes.from}>${row.attributes.to}`);
    const created = ours.find((row) => row.type === 'task' && row.action === 'create' && row.name === `${service}.1`);
    expect(created?.attributes.state).toBe('pending');
    expect(transitions[0]?.attributes.from, chain.join(' ')).toBe('pending');
    transitions.slice(1).forEach((row, i) => expect(row.attributes.from, chain.join(' ')).toBe(transitions[i].attributes.to));
    expect(taskStates(`${service}.1`)).toContain('running');
    expect(ours.find((row) => row.type === 'task' && row.action === 'state' && row.attributes.to === 'assigned')?.attributes.node).toBe(nodeId);
    // The create came before the scale, the scale before the second task ran, the removal last.
    const at = (row: EventRow | undefined) => (row ? ours.indexOf(row) : -1);
    const firstRunning = ours.find((row) => row.name === `${service}.1` && row.attributes.to === 'running');
    const secondRunning = ours.find((row) => row.name === `${service}.2` && row.attributes.to === 'running');
    expect(at(serviceRows[0])).toBeLessThan(at(firstRunning));
    expect(at(serviceRows[1])).toBeLessThan(at(secondRunning));
    expect(at(secondRunning)).toBeLessThan(at(serviceRows[2]));
    // The removal stops the tasks: each is told to shut down.
    const toldToStop = () => new Set(all.rows().filter((row) => row.attributes.service === service && (row.action === 'desire' || row.action === 'remove')).map((row) => row.name));
    await waitFor(() => toldToStop().size === 2, 20_000, `${service}'s tasks told to stop\n${all.output}`);

    // The filtered watcher printed text lines for the service alone.
    await waitFor(() => servicesOnly.output.split('\n').filter((line) => line !== '').length >= 3, 10_000, `filtered lines\n${servicesOnly.output}${servicesOnly.errors}`);
    const lines = servicesOnly.output.split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z service create ${service} \\(image=[^,]*busybox[^,]*, mode=replicated, replicas=1\\)$`));
    expect(lines[1]).toMatch(new RegExp(` service update ${service} \\(.*replicas=2, replicas.old=1\\)$`));
    expect(lines[2]).toMatch(new RegExp(` service remove ${service}$`));

    // Ctrl-C ends a watch cleanly.
    expect(await all.interrupt()).toBe(0);
    expect(await servicesOnly.interrupt()).toBe(0);
    expect(all.errors + servicesOnly.errors).toBe('');
  }, 120_000);
});
