import { SchedulerClient, resolveAddresses } from './scheduler-client';

/**
 * What a command needs from its surroundings. The client is made on first
 * use so commands that fail on their own flags never open a connection.
 */
export class Context {
  private made: SchedulerClient | undefined;

  constructor(
    private readonly schedulerFlag: () => string | undefined,
    readonly stdout: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout,
  ) {}

  client(): SchedulerClient {
    this.made ??= new SchedulerClient(resolveAddresses(this.schedulerFlag()));
    return this.made;
  }

  write(text: string): void {
    this.stdout.write(text);
  }

  close(): void {
    this.made?.close();
  }
}
