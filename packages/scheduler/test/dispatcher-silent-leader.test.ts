import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { LEADER_METADATA } from '@pisched/api';
import { Store } from '../src/store/store';
import { RaftCommandLog } from '../src/store/raft-command-log';
import { dispatcherLeadership } from '../src/cluster/dispatcher-leadership';
import { raftCredentials } from '../src/security/member-credentials';
import type { Peer } from '../src/cluster/peers';
import { memberIdentity } from './tls-support';
import { peersOn, waitFor } from './raft-test-support';
import { serveDispatcher } from './dispatcher-loopback';

// A follower of a leader that has just died still names it until its own election timeout runs
// out; agents it refused then went to the dead leader and came back every 250 ms (issue #17).

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function member(self: Peer, peers: Peer[]) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pisched-silent-leader-'));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = new Store();
  // The daemon's Raft timing (50 ms ticks, election timeout 500–1000 ms).
  const log = new RaftCommandLog(dir, store, self, peers, { credentials: raftCredentials(await memberIdentity(), () => undefined) });
  await log.start();
  cleanup.push(() => log.stop());
  return { store, log };
}

describe('a follower whose leader has gone silent', () => {
  it('holds a registration until a leader is elected, then accepts it or names the new leader, not the dead one', async () => {
    const peers = await peersOn(3);
    const members = await Promise.all(peers.map((peer) => member(peer, peers)));
    const old = await waitFor(() => members.find((m) => m.log.host.isLeader), 'a leader');
    const follower = members.find((m) => m !== old)!;
    await waitFor(() => follower.log.host.leaderId === old.log.self.raftId, 'the follower to know the leader');

    // The follower's dispatcher, wired to Raft as the scheduler wires it, and leading as the scheduler does once elected.
    let leading = false;
    const { dispatcher, client, close } = await serveDispatcher<{ accepted?: unknown }>(follower.store, dispatcherLeadership(follower.log, () => leading));
    cleanup.push(close);
    follower.log.host.on('leader-change', () => {
      if (!follower.log.host.isLeader || leading) return;
      dispatcher.start();
      leading = true;
    });

    await old.log.stop();
    await waitFor(() => follower.log.host.leaderSilent, 'the follower to find its leader silent');
    // Refused now, the agent would be sent to the dead leader.
    expect(follower.log.leader()?.id).toBe(old.log.self.id);

    const call = client.Session();
    cleanup.push(() => call.cancel());
    const answer = await new Promise<'accepted' | grpc.ServiceError>((resolve) => {
      call.on('error', resolve);
      call.on('data', (message: { accepted?: unknown }) => message.accepted && resolve('accepted'));
      call.write({ register: { nodeId: 'pi-1', description: { hostname: 'pi-1', platform: { os: 'linux', architecture: 'arm64' }, resources: { cpus: 4, memoryBytes: 1024 } } } });
    });
    const other = members.find((m) => m !== old && m !== follower)!;
    if (answer === 'accepted') {
      expect(follower.log.host.isLeader).toBe(true);
    } else {
      expect(answer.code).toBe(grpc.status.UNAVAILABLE);
      expect(answer.metadata.get(LEADER_METADATA)).toEqual([other.log.self.address]);
      expect(other.log.host.isLeader).toBe(true);
    }
  });
});
