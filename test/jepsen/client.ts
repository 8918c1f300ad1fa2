import * as grpc from '@grpc/grpc-js';
import { loadGrpc, type ControlClient, type Service } from '@pisched/api';
import type { HistoryRecorder, PendingOperation, ServiceInput, ServiceOutput } from '../linearizability';
import { adminChannel } from '../harness';

/**
 * One logical client of the Jepsen-style test: it talks gRPC straight to one
 * member's Control API (no CLI, whose retries across addresses would hide
 * which member answered) and records every call in the shared history.
 *
 * How an answer becomes an outcome, for the checker:
 *
 * - success: ok (a read's output is the desired replica count).
 * - ALREADY_EXISTS on create, NOT_FOUND on scale/remove: 'refused' — the
 *   precondition was false, definitely, and nothing changed.
 * - NOT_FOUND on a read: ok(null), the service is absent.
 * - ABORTED (the update's version compare-and-set failed, in the handler or
 *   when the entry was applied): nothing changed, discard.
 * - INVALID_ARGUMENT: refused before anything was proposed, discard (and
 *   counted: the test's specs are valid, so it should never happen).
 * - UNAVAILABLE "not the leader…": the gate, RaftCommandLog.current (a
 *   leader just elected that cannot confirm it leads) or RaftHost.propose
 *   refused before proposing (NotLeaderError is thrown before the entry
 *   reaches the log), discard. "the leader … cannot be reached; the write was not
 *   applied": the forwarded call never left the member (grpc-js "No
 *   connection established"), discard. The same grpc-js words or
 *   ECONNREFUSED on our own channel: the request was never sent, discard.
 * - UNAVAILABLE "… may or may not have been applied" (the forwarding broke,
 *   or leadership changed while the entry was in flight), DEADLINE_EXCEEDED,
 *   and every other error of a write: unknown — the entry may sit in a log and
 *   commit later. unknown() only weakens the check, so it is the default.
 * - Any failure of a read ("cannot confirm the state is current", a
 *   timeout, …): discard, a read that did not answer says nothing.
 */
export type Outcome = 'ok' | 'refused' | 'unknown' | 'discarded';

export interface OpRecord {
  clientId: number;
  kind: ServiceInput['op'];
  outcome: Outcome;
  member: string;
  call: number;
  done: number;
  detail?: string;
}

const NEVER_SENT = /No connection established|ECONNREFUSED|the write was not applied/;

type GrpcError = { code?: number; details?: string; message?: string };

export class JepsenClient {
  private readonly channels = new Map<string, ControlClient>();

  constructor(
    readonly id: number,
    private readonly recorder: HistoryRecorder<ServiceInput, ServiceOutput>,
    private readonly log: OpRecord[],
    private readonly deadlineMs: number,
    private readonly image: string,
  ) {}

  close(): void {
    for (const channel of this.channels.values()) channel.close();
  }

  /** A read of `name`; resolves with what was recorded, so callers can scale from it. */
  async read(address: string, name: string): Promise<{ outcome: Outcome; service?: Service }> {
    const pending = this.recorder.invoke(this.id, { op: 'read', name });
    const call = performance.now();
    try {
      const { service } = await this.unary<{ service: Service | null }>(address, 'GetService', { service: name });
      if (!service) throw new Error('GetService answered without a service');
      pending.ok(service.spec!.replicas);
      this.note('read', 'ok', address, call);
      return { outcome: 'ok', service };
    } catch (error) {
      const { code, details } = error as GrpcError;
      if (code === grpc.status.NOT_FOUND) {
        pending.ok(null);
        this.note('read', 'ok', address, call);
        return { outcome: 'ok' };
      }
      pending.discard();
      this.note('read', 'discarded', address, call, `${code} ${details ?? (error as Error).message}`);
      return { outcome: 'discarded' };
    }
  }

  create(address: string, name: string, replicas: number): Promise<Outcome> {
    const spec = { name, replicas, container: { image: this.image } };
    return this.write(address, { op: 'create', name, replicas }, 'CreateService', { spec }, grpc.status.ALREADY_EXISTS);
  }

  /** GetService for the version (recorded as a read), then UpdateService with it. */
  async scale(address: string, name: string, replicas: number): Promise<Outcome> {
    const { outcome, service } = await this.read(address, name);
    // Absent or unreadable: nothing to scale; the read itself is already in the history.
    if (outcome !== 'ok' || !service) return outcome;
    const spec = { ...service.spec!, replicas };
    return this.write(address, { op: 'scale', name, replicas }, 'UpdateService', { service: name, version: service.meta!.version, spec }, grpc.status.NOT_FOUND);
  }

  remove(address: string, name: string): Promise<Outcome> {
    return this.write(address, { op: 'remove', name }, 'RemoveService', { service: name }, grpc.status.NOT_FOUND);
  }

  private async write(address: string, input: ServiceInput, method: string, request: object, refusedCode: number): Promise<Outcome> {
    const pending = this.recorder.invoke(this.id, input);
    const call = performance.now();
    let outcome: Outcome;
    let detail: string | undefined;
    try {
      await this.unary(address, method, request);
      pending.ok('ok');
      outcome = 'ok';
    } catch (error) {
      const { code, details } = error as GrpcError;
      detail = `${code} ${details ?? (error as Error).message}`;
      outcome = settleFailedWrite(pending, code, details ?? '', refusedCode);
    }
    this.note(input.op, outcome, address, call, detail);
    return outcome;
  }

  private note(kind: ServiceInput['op'], outcome: Outcome, member: string, call: number, detail?: string): void {
    this.log.push({ clientId: this.id, kind, outcome, member, call, done: performance.now(), detail });
  }

  private unary<T>(address: string, method: string, request: object): Promise<T> {
    let channel = this.channels.get(address);
    if (!channel) {
      const { credentials, options } = adminChannel(address);
      channel = new (loadGrpc().Control)(address, credentials, options);
      this.channels.set(address, channel);
    }
    const invoke = (channel as unknown as Record<string, (r: object, o: grpc.CallOptions, cb: grpc.requestCallback<T>) => void>)[method].bind(channel);
    return new Promise<T>((resolve, reject) => {
      invoke(request, { deadline: Date.now() + this.deadlineMs }, (error, value) => (error ? reject(error) : resolve(value as T)));
    });
  }
}

function settleFailedWrite(pending: PendingOperation<ServiceOutput>, code: number | undefined, details: string, refusedCode: number): Outcome {
  if (code === refusedCode) {
    pending.ok('refused');
    return 'refused';
  }
  const certainlyNotApplied =
    code === grpc.status.ABORTED ||
    code === grpc.status.INVALID_ARGUMENT ||
    (code === grpc.status.UNAVAILABLE && (/^not the leader/.test(details) || NEVER_SENT.test(details)) && !/may or may not/.test(details));
  if (certainlyNotApplied) {
    pending.discard();
    return 'discarded';
  }
  pending.unknown();
  return 'unknown';
}
