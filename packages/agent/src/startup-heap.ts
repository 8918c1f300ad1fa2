// A few seconds after start, V8's memory reducer collects the garbage of the
// agent's start-up: two full collections (a third in about half of the runs),
// 60–90 ms of CPU in the idle agent's first 20 s
// (docs/benchmarks/startup-and-footprint.md). It takes two because the first
// has no live sizes of the pages to choose which to compact by; the second
// compacts and gives the pages back.
// Under the unit's flags (--expose-gc --memory-reducer-single-gc) the agent
// makes one full collection itself, once its start-up is done and before it
// says so: the reducer's one collection then has each page's live size and
// compacts as its second did, to the same heap and RSS, for one collection
// in the start-up and one after instead of two or three after. Without the
// flags (dist/main.js run by hand, the simulator) this does nothing and V8
// does as it always has.
let settled = false;

/** Once per process, at the end of the agent's start-up: one full collection, if the unit's flags expose it. */
export function settleStartupHeap(): void {
  if (settled) return;
  settled = true;
  (globalThis as { gc?: () => void }).gc?.();
}
