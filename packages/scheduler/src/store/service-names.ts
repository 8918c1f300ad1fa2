import type { Service } from '@pisched/api';

/**
 * Which stored service holds each name. Names are unique among services, and
 * finding one by name (every creation checks its name is free, on the leader
 * and again at apply on every member) was a pass over every service.
 */
export class ServiceNames {
  private readonly ids = new Map<string, string>();

  /** Service `id` changed from `before` to `after` (undefined: absent). */
  change(id: string, before: Service | undefined, after: Service | undefined): void {
    const old = before?.spec?.name;
    if (old !== undefined && this.ids.get(old) === id) this.ids.delete(old);
    const name = after?.spec?.name;
    if (name !== undefined) this.ids.set(name, id);
  }

  idOf(name: string): string | undefined {
    return this.ids.get(name);
  }

  clear(): void {
    this.ids.clear();
  }
}
