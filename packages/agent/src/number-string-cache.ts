// V8 keeps the strings it made of numbers in a cache whose full size follows
// the young generation's largest size: 2,048 entries (32 KiB) under the unit's
// --max-semi-space-size=1. But the cache that comes with Node's startup
// snapshot was made at the default size, 16,384 entries (256 KiB, written over
// at every full collection), and V8 makes it the size for this process only
// when two numbers first meet in one entry, which an idle agent, making few
// strings of numbers, may not do for hours. Two such numbers at start make
// that happen now. Under the default young generation the full size is the
// snapshot's, and nothing changes.
const MEET_IN_ONE_ENTRY = [0.5, 1.5];

/** Has V8 give the number-to-string cache its size for this process's flags now (idle agent: 256 -> 32 KiB). */
export function sizeNumberStringCache(): void {
  // A double's entry is its bits' two halves xor-ed, masked: these two differ only above the mask.
  for (const number of MEET_IN_ONE_ENTRY) String(number);
}
