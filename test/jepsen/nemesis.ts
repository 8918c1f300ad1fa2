/**
 * The Jepsen-style test's nemesis: one fault at a time, each followed by a
 * healthy spell, until told to stop. It only knows members by id and asks
 * the test to do the work (kill/restart, signals, partition rules, joins and
 * removals), so it stays free of how the members were started.
 *
 * A membership change joins a new member and, once it votes, removes the
 * target: the cluster keeps its size, and the next fault may hit either.
 */
export const KINDS = ['kill', 'pause', 'partition', 'membership'] as const;
export type FaultKind = (typeof KINDS)[number];

export interface Fault {
  kind: FaultKind;
  target: string;
  wasLeader: boolean;
  start: number;
  end: number;
}

export interface NemesisActions {
  /** The members now: a membership change alters it. */
  ids(): string[];
  /** The current leader as the members report it, or undefined during an election. */
  leader(): Promise<string | undefined>;
  kill(id: string): Promise<void>;
  restart(id: string): Promise<void>;
  pause(id: string): void;
  resume(id: string): void;
  isolate(id: string): void;
  heal(): void;
  /** Starts a new member with --join and returns its id once it is a voter. */
  join(): Promise<string>;
  /** Removes a member (`pisched cluster remove`) and returns once its process has stopped. */
  remove(id: string): Promise<void>;
}

export interface NemesisOptions {
  healthyMs: number;
  /** How long a killed member stays down. */
  downMs: [number, number];
  /** Longer than the election timeout (10–19 ticks of 50 ms), so the others elect a new leader. */
  pauseMs: [number, number];
  partitionMs: [number, number];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const between = ([low, high]: [number, number]) => low + Math.random() * (high - low);

export class Nemesis {
  readonly faults: Fault[] = [];
  private stopping = false;
  private running?: Promise<void>;

  constructor(
    private readonly actions: NemesisActions,
    private readonly options: NemesisOptions,
    private readonly log: (line: string) => void,
  ) {}

  start(): void {
    this.running = this.loop();
  }

  /** Ends the fault under way (it heals itself first) and waits for the loop to return. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
  }

  /** Whether a fault of every kind has been injected and has ended. */
  everyKindDone(): boolean {
    return new Set(this.faults.filter((fault) => fault.end !== Infinity).map((fault) => fault.kind)).size === KINDS.length;
  }

  /** Whether time `t` (performance.now()) fell in a fault. */
  during(t: number): boolean {
    return this.faults.some((fault) => t >= fault.start && t <= fault.end);
  }

  private async loop(): Promise<void> {
    // Each kind first once, in a random order, so a short run still sees all four.
    const kinds = [...KINDS].sort(() => Math.random() - 0.5);
    for (let round = 0; !this.stopping; round++) {
      await sleep(this.options.healthyMs);
      if (this.stopping) break;
      const kind = round < kinds.length ? kinds[round] : kinds[Math.floor(Math.random() * kinds.length)];
      // Mostly the leader, where a fault hurts most; sometimes a follower.
      const leader = await this.actions.leader();
      const ids = this.actions.ids();
      const target = leader && Math.random() < 0.75 ? leader : ids[Math.floor(Math.random() * ids.length)];
      await this.inject(kind, target, target === leader);
    }
  }

  private async inject(kind: FaultKind, target: string, wasLeader: boolean): Promise<void> {
    const fault: Fault = { kind, target, wasLeader, start: performance.now(), end: Infinity };
    this.faults.push(fault);
    const role = wasLeader ? 'leader' : 'follower';
    if (kind === 'kill') {
      const ms = between(this.options.downMs);
      this.log(`kill -9 ${target} (${role}) for ${Math.round(ms)} ms`);
      await this.actions.kill(target);
      await sleep(ms);
      await this.actions.restart(target);
      this.log(`restarted ${target}`);
    } else if (kind === 'pause') {
      const ms = between(this.options.pauseMs);
      this.log(`SIGSTOP ${target} (${role}) for ${Math.round(ms)} ms`);
      this.actions.pause(target);
      await sleep(ms);
      this.actions.resume(target);
      this.log(`SIGCONT ${target}`);
    } else if (kind === 'membership') {
      this.log(`join a new member, then remove ${target} (${role})`);
      const joined = await this.actions.join();
      this.log(`${joined} joined and votes; removing ${target}`);
      await this.actions.remove(target);
      this.log(`removed ${target}; members now ${this.actions.ids().join(', ')}`);
    } else {
      const ms = between(this.options.partitionMs);
      this.log(`partition ${target} (${role}) away from the others for ${Math.round(ms)} ms`);
      this.actions.isolate(target);
      await sleep(ms);
      this.actions.heal();
      this.log(`healed the partition of ${target}`);
    }
    fault.end = performance.now();
  }
}
