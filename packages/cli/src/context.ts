import { clusterChannel, peerIdentity, type ClusterChannel } from '@pisched/api';
import { SchedulerClient, resolveAddresses } from './scheduler-client';
import { findAdminCredentials } from './tls-lookup';
import { localImagePlatforms } from './image-platforms';
import type { ImageResolver } from './platform-flags';

/**
 * What a command needs from its surroundings. The client is made on first
 * use so commands that fail on their own flags never open a connection.
 */
export class Context {
  private made: SchedulerClient | undefined;

  constructor(
    private readonly schedulerFlag: () => string | undefined,
    readonly stdout: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout,
    /** Reads an image's platform from the local engine (`run`, `update --image`). */
    readonly resolveImage: ImageResolver = (image) => localImagePlatforms(image),
    readonly stderr: NodeJS.WritableStream = process.stderr,
    private readonly tlsDirFlag: () => string | undefined = () => undefined,
  ) {}

  client(): SchedulerClient {
    if (!this.made) {
      const addresses = resolveAddresses(this.schedulerFlag());
      let channel: ClusterChannel | undefined;
      this.made = new SchedulerClient(addresses, () => (channel ??= clusterChannel(findAdminCredentials(this.tlsDirFlag(), addresses).identity)));
    }
    return this.made;
  }

  /** The name in the admin certificate this CLI calls with. */
  adminName(): string | undefined {
    const addresses = resolveAddresses(this.schedulerFlag());
    return peerIdentity(findAdminCredentials(this.tlsDirFlag(), addresses).identity.certPem)?.nodeId;
  }

  write(text: string): void {
    this.stdout.write(text);
  }

  writeError(text: string): void {
    this.stderr.write(text);
  }

  close(): void {
    this.made?.close();
  }
}
