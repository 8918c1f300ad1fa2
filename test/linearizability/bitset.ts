/**
 * The set of operations linearized so far. The search caches (set, state)
 * pairs it has already explored, so the set needs a cheap hash and equality;
 * a word array keeps both proportional to n/32 instead of n.
 */
export class Bitset {
  private constructor(private readonly words: Uint32Array) {}

  static ofSize(bits: number): Bitset {
    return new Bitset(new Uint32Array(Math.ceil(bits / 32)));
  }

  clone(): Bitset {
    return new Bitset(this.words.slice());
  }

  set(bit: number): this {
    this.words[bit >>> 5] |= 1 << (bit & 31);
    return this;
  }

  clear(bit: number): this {
    this.words[bit >>> 5] &= ~(1 << (bit & 31));
    return this;
  }

  equals(other: Bitset): boolean {
    const a = this.words;
    const b = other.words;
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  /** FNV-1a over the words: sets that differ in one bit land far apart. */
  hash(): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < this.words.length; i++) {
      h = Math.imul(h ^ this.words[i], 0x01000193);
    }
    return h >>> 0;
  }
}
