import * as grpc from '@grpc/grpc-js';
import { loadGrpc, type ClusterChannel, type ClusterStatus } from '@pisched/api';

/** How long one member waits for another's own view. */
const ASK_TIMEOUT_MS = 1_000;

type StatusClient = {
  GetClusterStatus(request: { localOnly: boolean }, options: grpc.CallOptions, callback: grpc.requestCallback<ClusterStatus>): void;
};

/** Asks other members for their own view of the cluster; undefined when one does not answer in time. */
export class MemberStatusClient {
  private readonly clients = new Map<string, StatusClient & { close(): void }>();
  /** Members that last refused this one's certificate (it was revoked: this member was removed). */
  readonly refusedBy = new Set<string>();

  /** `channel` is read when a member is first asked: a single scheduler makes its credentials at start. */
  constructor(private readonly channel: () => ClusterChannel) {}

  ask(address: string): Promise<ClusterStatus | undefined> {
    let client = this.clients.get(address);
    if (!client) {
      const { credentials, options } = this.channel();
      client = new (loadGrpc().Control)(address, credentials, options) as unknown as StatusClient & { close(): void };
      this.clients.set(address, client);
    }
    const asked = client;
    return new Promise((resolve) =>
      asked.GetClusterStatus({ localOnly: true }, { deadline: Date.now() + ASK_TIMEOUT_MS }, (error, response) => {
        if (error?.code === grpc.status.PERMISSION_DENIED) this.refusedBy.add(address);
        else this.refusedBy.delete(address);
        resolve(error ? undefined : response);
      }),
    );
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
