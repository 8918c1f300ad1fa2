// A member with many committed entries to apply (restarted, or back from a partition) applies them a slice per event-loop turn.
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryNetwork, MemoryStorage, RaftHost, SlowTurn, StateMachine } from '../src/index.js';
import { until } from './until.js';

class CountingMachine implements StateMachine {
  bytes = 0;
  apply(_index: number, data: Uint8Array): void {
    this.bytes += data.length;
  }
  snapshot(): Uint8Array {
    return new Uint8Array(0);
  }
  restore(): void {
    this.bytes = 0;
  }
}

const running: RaftHost[] = [];
afterEach(async () => {
  for (const h of running.splice(0)) await h.stop();
});

const ENTRY_BYTES = 100_000;
const ENTRIES = 60;

describe('RaftHost applying a backlog', () => {
  it('applies at most about a megabyte of entries per turn, over several turns, and all of them', async () => {
    const net = new MemoryNetwork();
    const storages = new Map<number, MemoryStorage>();
    const machines = new Map<number, CountingMachine>();
    const start = async (id: number, slowTurnMs = 100) => {
      storages.set(id, storages.get(id) ?? new MemoryStorage());
      machines.set(id, new CountingMachine());
      const host = new RaftHost({ id, peers: [1, 2, 3], storage: storages.get(id)!, transport: net.transport(id), stateMachine: machines.get(id)!, tickMs: 5, seed: id, slowTurnMs });
      running.push(host);
      await host.start();
      return host;
    };
    const hosts = [await start(1), await start(2), await start(3)];
    await until(() => hosts.some((h) => h.isLeader));
    const leader = hosts.find((h) => h.isLeader)!;
    for (let i = 0; i < ENTRIES; i++) await leader.propose(new Uint8Array(ENTRY_BYTES).fill(i));
    const follower = hosts.find((h) => h !== leader)!;
    await until(() => follower.appliedIndex >= leader.appliedIndex);

    // Restarted with its log: every committed entry is applied again from the storage.
    await follower.stop();
    running.splice(running.indexOf(follower), 1);
    const again = await start(follower.id, 0);
    const turns: SlowTurn[] = [];
    again.on('slow-turn', (turn: SlowTurn) => turns.push(turn));
    await until(() => machines.get(follower.id)!.bytes >= ENTRIES * ENTRY_BYTES);

    const applying = turns.filter((turn) => turn.applied > 0);
    expect(applying.reduce((sum, turn) => sum + turn.appliedBytes, 0)).toBe(ENTRIES * ENTRY_BYTES);
    expect(applying.length).toBeGreaterThanOrEqual(3);
    for (const turn of applying) expect(turn.appliedBytes).toBeLessThanOrEqual(2 * 1024 * 1024);
  });
});
