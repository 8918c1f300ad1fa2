import { clusterChannel, peerIdentity, type ClusterChannel } from '@pisched/api';
import { SchedulerClient, resolveAddresses, type Dial } from './scheduler-client';
import { findAdminCredentials, type FoundCredentials } from './tls-lookup';
import { localControlSocket } from './control-socket-lookup';
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
      let found: FoundCredentials | undefined;
      const credentials = () => (found ??= findAdminCredentials(this.tlsDirFlag(), addresses));
      let tls: ClusterChannel | undefined;
      this.made = new SchedulerClient(addresses, (address): Dial => {
        // A scheduler on this machine whose own admin bundle the CLI found: its socket, without a TLS context or handshake.
        const socket = localControlSocket(credentials().from, address);
        return socket ? { socket } : (tls ??= clusterChannel(credentials().identity));
      });
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
