#!/usr/bin/env node
// npm run -w packages/raft sim:host -- --seeds A..B [--ms 15000]   (or --seed S for one run with its fault log)
import { runHostRandom } from './host-sim.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
}

async function main(): Promise<void> {
  const ms = Number(arg('ms', '15000'));
  const range = arg('seeds', '');
  const [a, b] = range ? range.split('..').map(Number) : [Number(arg('seed', String(Date.now() % 1_000_000))), NaN];
  const seeds = Number.isNaN(b) ? [a] : Array.from({ length: b - a + 1 }, (_, i) => a + i);
  let failed = 0;
  const t0 = Date.now();
  for (const seed of seeds) {
    try {
      const r = await runHostRandom({ seed, ms, log: seeds.length === 1 ? (l) => console.log(l) : undefined });
      if (seeds.length === 1 || seed % 100 === 0) console.log(`seed ${seed}: ok, ${r.acknowledged} acknowledged, applied to ${r.applied}, faults ${JSON.stringify(r.faults)}`);
    } catch (error) {
      failed++;
      console.error(`seed ${seed}: FAILED ${(error as Error).stack}\nreplay: npm run -w packages/raft sim:host -- --seed ${seed} --ms ${ms}`);
    }
  }
  console.log(`${seeds.length - failed}/${seeds.length} seeds passed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  process.exit(failed > 0 ? 1 : 0);
}

void main();
