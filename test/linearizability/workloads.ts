import type { KvInput, KvOutput } from './models/kv';
import type { RegisterInput, RegisterOutput } from './models/register';
import type { ServiceInput, ServiceOutput } from './models/services';
import type { Workload } from './random-history';

/**
 * Real objects for generated histories. Every written value is unique to its
 * operation (derived from the operation's index), which is what lets a test
 * build reads that are impossible for certain: a value nobody wrote, or one
 * written only after the read returned.
 */
export function registerWorkload(): Workload<RegisterInput<number>, RegisterOutput<number>> {
  let value = 0;
  return {
    nextInput: (random, index) => (random() < 0.5 ? { op: 'put', value: index + 1 } : { op: 'get' }),
    apply(input) {
      if (input.op === 'get') return value;
      value = input.value;
      return undefined;
    },
    isWrite: (input) => input.op === 'put',
  };
}

export function kvWorkload(keys: string[]): Workload<KvInput, KvOutput> {
  const map = new Map<string, string>();
  return {
    nextInput(random, index) {
      const key = keys[Math.floor(random() * keys.length)];
      const r = random();
      if (r < 0.25) return { op: 'put', key, value: `p${index};` };
      if (r < 0.5) return { op: 'append', key, value: `a${index};` };
      return { op: 'get', key };
    },
    apply(input) {
      if (input.op === 'get') return map.get(input.key) ?? null;
      map.set(input.key, input.op === 'put' ? input.value : (map.get(input.key) ?? '') + input.value);
      return undefined;
    },
    isWrite: (input) => input.op !== 'get',
  };
}

export function servicesWorkload(names: string[]): Workload<ServiceInput, ServiceOutput> {
  const replicas = new Map<string, number>();
  return {
    nextInput(random) {
      const name = names[Math.floor(random() * names.length)];
      const count = 1 + Math.floor(random() * 5);
      const r = random();
      if (r < 0.2) return { op: 'create', name, replicas: count };
      if (r < 0.45) return { op: 'scale', name, replicas: count };
      if (r < 0.6) return { op: 'remove', name };
      return { op: 'read', name };
    },
    apply(input) {
      const current = replicas.get(input.name);
      switch (input.op) {
        case 'read':
          return current ?? null;
        case 'create':
          if (current !== undefined) return 'refused';
          replicas.set(input.name, input.replicas);
          return 'ok';
        case 'scale':
          if (current === undefined) return 'refused';
          replicas.set(input.name, input.replicas);
          return 'ok';
        case 'remove':
          if (current === undefined) return 'refused';
          replicas.delete(input.name);
          return 'ok';
      }
    },
    isWrite: (input) => input.op !== 'read',
  };
}
