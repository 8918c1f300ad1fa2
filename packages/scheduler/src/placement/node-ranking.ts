/**
 * The nodes a group of interchangeable tasks may still go to, best first: a
 * binary heap of node indices ordered by `before`. Placing a group's task
 * changes only the node it went to, so after each placement that one node
 * moves (or leaves) and the next best is at the top again: log(n) steps a
 * task where a scan of every node took n (at 1,000 nodes a placement pass
 * spent most of its time scanning).
 */
export class NodeRanking {
  private readonly heap: number[];
  /** Each node's position in the heap, -1 when it is not there. */
  private readonly position: Int32Array;
  /** Comparisons made so far (how tests tell a ranking from a scan). */
  comparisons = 0;

  /** nodes: indices below `size`; before(a, b): a is to be chosen over b (a strict total order). */
  constructor(
    nodes: readonly number[],
    size: number,
    private readonly before: (a: number, b: number) => boolean,
  ) {
    this.heap = [...nodes];
    this.position = new Int32Array(size).fill(-1);
    this.heap.forEach((node, at) => (this.position[node] = at));
    for (let at = (this.heap.length >> 1) - 1; at >= 0; at--) this.down(at);
  }

  /** The best node, or -1 when none is left. */
  best(): number {
    return this.heap.length > 0 ? this.heap[0] : -1;
  }

  /** After what decides `node`'s rank changed: moves it to its new place, or takes it out when it can no longer take a task. */
  changed(node: number, stillFits: boolean): void {
    const at = this.position[node];
    if (at < 0) return;
    if (!stillFits) {
      const last = this.heap.pop()!;
      this.position[node] = -1;
      if (at === this.heap.length) return;
      this.heap[at] = last;
      this.position[last] = at;
      this.up(at);
      this.down(this.position[last]);
      return;
    }
    this.up(at);
    this.down(this.position[node]);
  }

  private up(at: number): void {
    const node = this.heap[at];
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (!this.precedes(node, this.heap[parent])) break;
      this.put(this.heap[parent], at);
      at = parent;
    }
    this.put(node, at);
  }

  private down(at: number): void {
    const node = this.heap[at];
    const n = this.heap.length;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && this.precedes(this.heap[right], this.heap[left]) ? right : left;
      if (!this.precedes(this.heap[child], node)) break;
      this.put(this.heap[child], at);
      at = child;
    }
    this.put(node, at);
  }

  private put(node: number, at: number): void {
    this.heap[at] = node;
    this.position[node] = at;
  }

  private precedes(a: number, b: number): boolean {
    this.comparisons++;
    return this.before(a, b);
  }
}
