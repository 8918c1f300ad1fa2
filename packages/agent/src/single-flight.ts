/**
 * One piece of work per key at a time: callers asking for a key whose work is
 * under way share its result instead of starting it again. Nothing is kept
 * once it settles, so the next caller sees the world as it is by then.
 */
export class SingleFlight<T> {
  private readonly running = new Map<string, Promise<T>>();

  run(key: string, work: () => Promise<T>): Promise<T> {
    const shared = this.running.get(key);
    if (shared) return shared;
    const started = work().finally(() => this.running.delete(key));
    this.running.set(key, started);
    return started;
  }
}
