import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import type { IssuedCertificate, PeerIdentity, Role } from '@pisched/api';
import { StateMachine } from '../src/store/state-machine';
import { liveCertificateOf, recordIssued, seedSecurity } from '../src/security/cluster-security';
import { revocationFingerprint, revocationReason, revokeNode } from '../src/security/revocation';
import { removeNode } from '../src/security/remove-node';
import { ApiError } from '../src/control/grpc-errors';
import { reconcileReplicated } from '../src/orchestrator/replicated';
import { reapTasks } from '../src/orchestrator/task-reaper';
import { placePendingTasks } from '../src/placement/placement';
import { applyActions, testClock } from './fixtures';
import { cluster, liveTasks, putNodes, putService, report, serviceSpec, settle, sizedNode } from './placement-fixtures';

const DAY = 24 * 3600_000;
const NOW = 1_000_000;

function withCa(): StateMachine {
  const machine = new StateMachine();
  applyActions(machine, seedSecurity(machine, { ca: { certPem: 'root', keyPem: 'key' }, workerSecret: 'w', managerSecret: 'm' }, NOW));
  return machine;
}

function issue(machine: StateMachine, nodeId: string, serial: string, role: Role = 'worker', notAfterMs = NOW + 90 * DAY, now = NOW): IssuedCertificate {
  const cert = { nodeId, role, serial, notAfterMs };
  expect(applyActions(machine, recordIssued(machine, cert, now))).toEqual({ ok: true });
  return cert;
}

function apply(machine: StateMachine, actions: ReturnType<typeof revokeNode>['actions']): void {
  expect(applyActions(machine, actions)).toEqual({ ok: true });
}

const caller = (nodeId: string, serial: string, role: Role = 'worker'): PeerIdentity => ({ nodeId, role, serial });

function refusal(run: () => unknown): ApiError {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('not refused');
}

describe('revocation in the store', () => {
  it('has a fingerprint that a join leaves alone and a revocation changes, so open sessions are asked again only then', () => {
    const machine = withCa();
    const empty = revocationFingerprint(machine.security);
    issue(machine, 'pi-1', 'aa');
    expect(revocationFingerprint(machine.security)).toBe(empty);
    apply(machine, revokeNode(machine, 'pi-1', 'worker', NOW + 1).actions);
    const revoked = revocationFingerprint(machine.security);
    expect(revoked).not.toBe(empty);
    // Another node joining changes no verdict...
    issue(machine, 'pi-2', 'bb');
    expect(revocationFingerprint(machine.security)).toBe(revoked);
    // ...but a certificate recorded for a node id revoked wholesale does: certificates of pi-1 not recorded are refused.
    issue(machine, 'pi-1', 'cc', 'worker', NOW + 90 * DAY, NOW + 2);
    expect(revocationFingerprint(machine.security)).not.toBe(revoked);
  });

  it('moves every certificate of the node from issued to revoked, frees its id, and refuses its serials', () => {
    const machine = withCa();
    issue(machine, 'pi-1', 'aa');
    issue(machine, 'pi-2', 'bb');
    const { actions, revoked } = revokeNode(machine, 'pi-1', 'worker', NOW + 1);
    expect(revoked).toBe(1);
    apply(machine, actions);
    const security = machine.security!;
    expect(security.issued.map((cert) => cert.serial)).toEqual(['bb']);
    expect(security.revoked.filter((entry) => entry.serial !== '')).toEqual([
      { nodeId: 'pi-1', role: 'worker', serial: 'aa', notAfterMs: NOW + 90 * DAY, revokedAtMs: NOW + 1 },
    ]);
    expect(revocationReason(machine, caller('pi-1', 'aa'))).toBe('the certificate of node pi-1 was revoked (node removed); rejoin with a new join token');
    expect(revocationReason(machine, caller('pi-2', 'bb'))).toBeUndefined();
    // The id is free again: a fresh join records a new certificate, which is accepted while the old one stays refused.
    expect(liveCertificateOf(machine, 'pi-1', NOW + 2)).toBeUndefined();
    issue(machine, 'pi-1', 'cc', 'worker', NOW + 90 * DAY, NOW + 2);
    expect(revocationReason(machine, caller('pi-1', 'cc'))).toBeUndefined();
    expect(revocationReason(machine, caller('pi-1', 'aa'))).toMatch(/was revoked/);
  });

  it('refuses a revoked id\'s certificates that no store recorded (a first member\'s own), but not one recorded after', () => {
    const machine = withCa();
    expect(revocationReason(machine, caller('s1', '01', 'manager'))).toBeUndefined();
    apply(machine, revokeNode(machine, 's1', 'manager', NOW).actions);
    expect(revocationReason(machine, caller('s1', '01', 'manager'))).toBe(
      'the certificate of scheduler s1 was revoked (member removed); rejoin with --join and a new manager join token',
    );
    expect(revocationReason(machine, caller('s2', '02', 'manager'))).toBeUndefined();
    issue(machine, 's1', '03', 'manager');
    expect(revocationReason(machine, caller('s1', '03', 'manager'))).toBeUndefined();
    expect(revocationReason(machine, caller('admin', '04', 'admin'))).toBeUndefined();
    apply(machine, revokeNode(machine, 'admin', 'admin', NOW).actions);
    expect(revocationReason(machine, caller('admin', '04', 'admin'))).toBe('the admin certificate admin was revoked; ask an admin for a new bundle (pisched admin issue)');
  });

  it('forgets a revocation once its certificate has expired, and keeps the ones still live, across a snapshot', () => {
    const machine = withCa();
    issue(machine, 'short', 'aa', 'worker', NOW + DAY);
    issue(machine, 'long', 'bb', 'worker', NOW + 300 * DAY);
    apply(machine, revokeNode(machine, 'short', 'worker', NOW).actions);
    apply(machine, revokeNode(machine, 'long', 'worker', NOW).actions);
    expect(machine.security!.revoked.map((entry) => entry.serial).sort()).toEqual(['', '', 'aa', 'bb']);
    // 100 days on: short's certificate expired (its entry goes); long's lives on (its entry stays, the unrecorded marker lasting as long).
    issue(machine, 'later', 'cc', 'worker', NOW + 190 * DAY, NOW + 100 * DAY);
    const kept = machine.security!.revoked;
    expect(kept.map((entry) => `${entry.nodeId}/${entry.serial}`).sort()).toEqual(['long/', 'long/bb']);
    expect(kept.find((entry) => entry.serial === '')!.notAfterMs).toBe(NOW + 300 * DAY);
    const replica = new StateMachine();
    replica.restore(machine.snapshot(), machine.appliedIndex);
    expect(revocationReason(replica, caller('long', 'bb'))).toMatch(/was revoked/);
  });
});

describe('node rm', () => {
  function withNodes(): StateMachine {
    const machine = withCa();
    putNodes(machine, sizedNode('ready'), sizedNode('drained', { availability: 'DRAIN' }), sizedNode('down'));
    const down = machine.nodes.get('down')!;
    applyActions(machine, [{ action: 'putNode', putNode: { ...down, state: 'DOWN' } }]);
    for (const [id, serial] of [['ready', 'r1'], ['drained', 'd1'], ['down', 'w1']]) issue(machine, id, serial);
    return machine;
  }

  it('refuses a ready node that is not drained unless forced, with one line saying what to do', () => {
    const machine = withNodes();
    const error = refusal(() => removeNode(machine, 'ready', false, NOW));
    expect(error.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(error.message).toBe('node ready is ready and not drained: drain it first (pisched node update --availability drain ready) or remove it anyway with --force');
    const [actions, revoked] = removeNode(machine, 'ready', true, NOW);
    expect(revoked).toBe(1);
    // One command: the node and its certificate go together or not at all.
    expect(applyActions(machine, actions)).toEqual({ ok: true });
    expect(machine.nodes.has('ready')).toBe(false);
    expect(revocationReason(machine, caller('ready', 'r1'))).toMatch(/was revoked/);
  });

  it('removes a drained or down node without --force', () => {
    const machine = withNodes();
    for (const id of ['drained', 'down']) {
      expect(applyActions(machine, removeNode(machine, id, false, NOW)[0])).toEqual({ ok: true });
      expect(machine.nodes.has(id)).toBe(false);
    }
    expect(machine.security!.issued.map((cert) => cert.nodeId)).toEqual(['ready']);
  });

  it('refuses an unknown id, and a scheduler\'s or admin\'s id (those leave by cluster remove and admin revoke)', () => {
    const machine = withNodes();
    expect(refusal(() => removeNode(machine, 'nobody', true, NOW)).code).toBe(grpc.status.NOT_FOUND);
    issue(machine, 's2', 'm1', 'manager');
    const error = refusal(() => removeNode(machine, 's2', true, NOW));
    expect(error.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(error.message).toBe('s2 holds a manager certificate, not an agent\'s: remove a scheduler with pisched cluster remove, an admin with pisched admin revoke');
    expect(machine.security!.issued.some((cert) => cert.serial === 'm1')).toBe(true);
  });

  it('a removed node\'s tasks are replaced elsewhere, and the ones left on it are marked orphaned, not left running', () => {
    const { machine } = cluster();
    applyActions(machine, seedSecurity(machine, { ca: { certPem: 'root', keyPem: 'key' }, workerSecret: 'w', managerSecret: 'm' }, NOW));
    const clock = testClock();
    putNodes(machine, sizedNode('n1'), sizedNode('n2'));
    const run = () => settle(machine, [(m) => reconcileReplicated(m, clock), (m) => placePendingTasks(m, clock), (m) => reapTasks(m, clock.now())]);
    putService(machine, 'web', serviceSpec('web', { replicas: 2 }));
    run();
    for (const task of liveTasks(machine, 'web')) report(machine, task, 'RUNNING');
    const onN1 = liveTasks(machine, 'web').filter((task) => task.nodeId === 'n1');
    expect(onN1.length).toBeGreaterThan(0);
    applyActions(machine, removeNode(machine, 'n1', true, NOW)[0]);
    run();
    expect(liveTasks(machine, 'web').map((task) => task.nodeId)).toEqual(['n2', 'n2']);
    for (const task of onN1) {
      const left = machine.tasks.get(task.id)!;
      expect(left.desiredState).toBe('SHUTDOWN');
      expect(left.status).toMatchObject({ state: 'ORPHANED', message: 'node n1 was removed' });
    }
  });
});
