#!/usr/bin/env node
// npm run -w packages/raft sim -- --seed S --nodes 5 --steps N [--seeds A..B]
import { InvariantError } from './sim.js';
import { runRandom } from './random.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
}

const nodes = Number(arg('nodes', '5'));
const steps = Number(arg('steps', '5000'));
const snapshotEvery = Number(arg('snapshot-every', '50'));
const seedsArg = arg('seeds', '');
let seeds: number[];
if (seedsArg) {
  const [a, b] = seedsArg.split('..').map(Number);
  seeds = Array.from({ length: b - a + 1 }, (_, i) => a + i);
} else {
  seeds = [Number(arg('seed', String(Date.now() % 1_000_000)))];
}
let failed = 0;
for (const seed of seeds) {
  const t0 = Date.now();
  try {
    const r = runRandom({ seed, nodes, steps, snapshotEvery, log: seeds.length === 1 ? (l) => console.log(l) : undefined });
    console.log(
      `seed ${seed}: ok in ${Date.now() - t0} ms wall, ${r.virtualMs} ms virtual, ${r.committed} committed, ${r.proposals} proposals, ${r.reads} reads, ` +
        `${r.messages} messages (${r.dropped} dropped), faults ${JSON.stringify(r.faults)}`,
    );
  } catch (e) {
    failed++;
    if (e instanceof InvariantError) console.error(`seed ${seed}: FAILED ${e.message}\nreplay: npm run -w packages/raft sim -- --seed ${seed} --nodes ${nodes} --steps ${steps}`);
    else console.error(`seed ${seed}: FAILED`, e);
  }
}
process.exit(failed > 0 ? 1 : 0);
