import { execFileSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { SIM_NODE_FLAGS } from '../bench/lib/sim-agents';

/** new_space's size in MiB, as a fresh node process given `flags` reports it, after `script`. */
function newSpaceMiB(flags: string[], script = ''): number {
  const code = `${script}; const space = require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space'); process.stdout.write(String(space.space_size / 2 ** 20));`;
  return Number(execFileSync(process.execPath, [...flags, '-e', code], { encoding: 'utf8' }));
}

// Garbage that lives a while (a few batches kept), as a burst's assignment sets do: the young generation grows to its cap.
const churn = "const kept = []; let batch = []; for (let i = 0; i < 3e6; i++) { batch.push({ i, s: 'x' + i }); if (batch.length > 50000) { kept.push(batch); if (kept.length > 4) kept.shift(); batch = []; } }";

it('gives the simulated agents a young generation that starts at 16 MiB and grows past the default cap', () => {
  expect(newSpaceMiB([])).toBeLessThan(16);
  expect(newSpaceMiB(SIM_NODE_FLAGS)).toBeGreaterThanOrEqual(16);
  const byDefault = newSpaceMiB([], churn);
  expect(newSpaceMiB(SIM_NODE_FLAGS, churn)).toBeGreaterThan(byDefault);
});

it('needs the flags on the command line: set at run time, Node 20 keeps the default cap', () => {
  const atRunTime = `require('node:v8').setFlagsFromString('${SIM_NODE_FLAGS.join(' ')}'); ${churn}`;
  expect(newSpaceMiB([], atRunTime)).toBe(newSpaceMiB([], churn));
});
