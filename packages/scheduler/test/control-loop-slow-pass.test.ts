import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from 'pino';
import { ControlLoop, type Pass } from '../src/orchestrator/control-loop';
import { Store } from '../src/store/store';

function memoryStore(): Store {
  const store = new Store();
  let index = 0;
  store.attach({ propose: async (data) => store.applyEntry(++index, data) });
  return store;
}

/** A pass spending `ms` of CPU, as placement over thousands of pending tasks does. */
const busyPass = (name: string, ms: number): Pass & { rounds: number } => {
  const pass = {
    name,
    rounds: 0,
    run: () => {
      pass.rounds++;
      const end = performance.now() + ms;
      while (performance.now() < end);
      return [];
    },
  };
  return pass;
};

describe('ControlLoop slow passes', () => {
  let loop: ControlLoop | undefined;
  afterEach(() => loop?.stop());

  it('logs a pass that held the event loop for 100 ms or more, by name, and not the quick ones', async () => {
    const warnings: { fields: Record<string, unknown>; message: string }[] = [];
    const log = { warn: (fields: Record<string, unknown>, message: string) => warnings.push({ fields, message }), info() {}, debug() {}, error() {} } as unknown as Logger;
    const slow = busyPass('placement', 120);
    const quick = busyPass('reaper', 0);
    loop = new ControlLoop(memoryStore(), [quick, slow], log, 60_000);
    loop.start();
    const deadline = Date.now() + 5_000;
    while (slow.rounds === 0 || quick.rounds === 0) {
      if (Date.now() > deadline) throw new Error('no round ran');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(warnings).toEqual([{ fields: { pass: 'placement', ms: expect.any(Number), actions: 0 }, message: 'control loop pass held the event loop' }]);
    expect(warnings[0].fields.ms).toBeGreaterThanOrEqual(120);
  });
});
